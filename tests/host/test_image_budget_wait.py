"""``ImageBudget.ms_until_available`` counts generations still in flight at their reservation
(as the token buckets do): images held by a running generation are not free now."""

from __future__ import annotations

from pathlib import Path

from nai_script.host.image_budget import ImageBudget
from nai_script.limits import FakeClock


async def test_in_flight_images_are_waited_for(tmp_path: Path) -> None:
    clock = FakeClock()
    budget = ImageBudget(tmp_path / "b.sqlite3", clock=clock)
    try:
        settled = await budget.reserve("s", 3)
        await settled.settle()
        clock.advance(100)
        running = await budget.reserve("s", 5)  # in flight: the whole capacity is held
        assert budget.available("s") == 0
        assert budget.ms_until_available("s", 0) == 0
        assert budget.ms_until_available("s", 3) == 200_000  # the settled entry's window
        assert budget.ms_until_available("s", 4) == 300_000  # ... and the running one's
        await running.release()
        assert budget.ms_until_available("s", 5) == 0
        assert budget.ms_until_available("s", 6) == 200_000
    finally:
        budget.close()
