"""api.v1.image.generate (our extension) through a real worker, host and simulator: data URIs,
the imageGeneration permission, the image budget (window AND interaction), bad params, 429s."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from host_helpers import hosted

from nai_script.host.image_budget import ImageBudget, ImageBudgetConfig, ImageBudgetExceeded
from nai_script.host.permissions import grant_permissions
from nai_script.limits import FakeClock
from sandbox.rlimits import WorkerLimits

#: The scripts log whole data URIs; a script's log lines are otherwise cut at 4 KB.
GRANTED: dict[str, Any] = {
    "permission_policy": grant_permissions,
    "worker_limits": WorkerLimits(log_line_bytes=1 << 20),
}
HEADER = '"""\n---\nid: t\npermissions: [imageGeneration]\n---\n"""\n'
CALL = (
    "try:\n"
    "    r = await api.v1.image.generate({params})\n"
    "    api.v1.log(len(r['images']), r['seed'], *r['images'])\n"
    "except Exception as e:\n"
    "    api.v1.error('ValueError' if isinstance(e, ValueError) else 'ApiError', str(e))\n"
)
SMALL = "{'prompt': 'a lighthouse', 'width': 128, 'height': 192, 'steps': 4, 'seed': 7"


def call(extra: str = "") -> str:
    return CALL.format(params=SMALL + extra + "}")


def png_size(uri: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    png = base64.b64decode(uri[len(prefix) :])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_returns_png_data_uris_of_the_right_count_and_size(tmp_path: Path) -> None:
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(HEADER + call(", 'samples': 3"))
        assert env.lines(level="error") == []
        count, seed, *uris = env.lines()[0].split(" ")
        assert (count, seed, len(uris)) == ("3", "7", 3)
        assert [png_size(u) for u in uris] == [(128, 192)] * 3
        assert len(set(uris)) == 3  # seed, seed+1, seed+2
        assert env.host.image_budget.available("t") == 5


async def test_no_seed_picks_one_and_returns_it(tmp_path: Path) -> None:
    source = HEADER + CALL.format(params="{'prompt': 'x', 'width': 64, 'height': 64}")
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(source)
        count, seed, uri = env.lines()[0].split(" ")
        assert (count, int(seed) >= 1) == ("1", True)
        assert png_size(uri) == (64, 64)


async def test_keyword_options_and_characters(tmp_path: Path) -> None:
    source = HEADER + (
        "r = await api.v1.image.generate(prompt='two girls', width=64, height=64, steps=2,\n"
        "    characters=[{'prompt': 'girl, red', 'position': 'B2', 'negative': 'sad'},"
        " 'girl, blue@D4|frown'])\n"
        "api.v1.log(len(r['images']))\n"
    )
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(source)
        assert env.lines(level="error") == []
        assert env.lines() == ["1"]


async def test_refused_without_permission_naming_it(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:  # the default policy denies
        await env.run(
            HEADER + "api.v1.log(await api.v1.permissions.has('imageGeneration'))\n" + call()
        )
        assert env.lines() == ["False"]
        (error,) = env.lines(level="error")
        assert error.startswith("ApiError ")
        assert "'imageGeneration' permission" in error
        assert env.host.image_budget.available("t") == 8


async def test_permission_request_at_runtime(tmp_path: Path) -> None:
    source = (
        "api.v1.log(await api.v1.permissions.request('imageGeneration'))\n"
        "api.v1.log('imageGeneration' in await api.v1.permissions.list())\n" + call()
    )
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(source)
        assert env.lines()[:2] == ["True", "True"]
        assert env.lines()[2].startswith("1 7 data:image/png;base64,")


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (", 'width': 100", "image.generate params.width: Input should be a multiple of 64"),
        (", 'steps': 99", "image.generate params.steps:"),
        (", 'samples': 5", "image.generate params.samples:"),
        (", 'samples': True", "image.generate params.samples:"),
        (", 'sampler': 'bogus'", "image.generate params.sampler:"),
        (", 'model': 'nope'", "image.generate params.model: 'nope' is not an image model"),
        (", 'bogus': 1", "image.generate params.bogus: Extra inputs are not permitted"),
        (", 'characters': ['a@Z9']", "'Z9' is not a grid cell"),
        (", 'characters': [{'prompt': 'a', 'pos': 'C3'}]", "params.characters.0"),
        (", 'prompt': ''", "image.generate params.prompt:"),
    ],
)
async def test_bad_params_name_the_field_and_cost_nothing(
    tmp_path: Path, extra: str, named: str
) -> None:
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(HEADER + call(extra))
        (error,) = env.lines(level="error")
        assert error.startswith("ValueError "), error
        assert named in error, error
        assert env.host.image_budget.available("t") == 8


async def test_missing_prompt_and_non_dict(tmp_path: Path) -> None:
    source = HEADER + (
        "for args in [({},), ('a prompt',), ()]:\n"
        "    try:\n"
        "        await api.v1.image.generate(*args)\n"
        "    except ValueError as e:\n"
        "        api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path, **GRANTED) as env:
        await env.run(source)
        missing, not_dict, no_args = env.lines()
        assert "params.prompt: Field required" in missing
        assert "params: must be a dict, got str" in not_dict
        assert "missing argument 'params'" in no_args


async def test_budget_refuses_then_returns_after_window_and_interaction(tmp_path: Path) -> None:
    clock = FakeClock()
    config = ImageBudgetConfig(capacity=4, window_s=300)
    async with hosted(tmp_path, clock=clock, **GRANTED, image_budget_config=config) as env:
        await env.run(HEADER + call(", 'samples': 3") + call(", 'samples': 2"))
        assert env.lines()[0].startswith("3 7 ")
        (refusal,) = env.lines(level="error")
        assert refusal.startswith("ApiError not enough image budget")
        assert "needs 2 images, 1 available (capacity 4)" in refusal
        assert env.host.image_budget.available("t") == 1  # the refusal cost nothing
        assert env.host.image_budget.ms_until_available("t", 2) == 300_000
        clock.advance(300)
        assert env.host.image_budget.available("t") == 1  # window passed, no interaction yet
        await env.host.record_interaction("t")
        assert env.host.image_budget.available("t") == 4
        assert env.host.image_budget.ms_until_available("t", 4) == 0


async def test_manual_generation_counts_and_interaction_before_spend_does_not(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with hosted(tmp_path, clock=clock, **GRANTED) as env:
        await env.host.record_interaction("t")
        clock.advance(1)
        await env.run(HEADER + call(", 'samples': 4"))
        clock.advance(400)
        assert env.host.image_budget.available("t") == 4
        await env.host.record_manual_generation()
        assert env.host.image_budget.available("t") == 8


async def test_budget_survives_a_host_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    async with hosted(tmp_path, clock=clock, **GRANTED) as env:
        await env.run(HEADER + call(", 'samples': 4"))
    async with hosted(tmp_path, clock=clock, **GRANTED) as env:
        assert env.host.image_budget.available("t") == 4


async def test_429_reaches_the_script_clearly_and_charges_nothing(tmp_path: Path) -> None:
    async with hosted(tmp_path, **GRANTED) as env:
        env.sim.settings.faults = "429"  # type: ignore[assignment]
        await env.run(HEADER + call())
        (error,) = env.lines(level="error")
        assert error.startswith("ApiError the backend refused the image (429"), error
        assert "nothing was charged" in error
        assert env.host.image_budget.available("t") == 8
        assert env.host.image_budget.entries("t") == []


async def test_server_error_charges_nothing(tmp_path: Path) -> None:
    async with hosted(tmp_path, **GRANTED) as env:
        env.sim.settings.faults = "500"  # type: ignore[assignment]
        await env.run(HEADER + call(", 'samples': 2"))
        (error,) = env.lines(level="error")
        assert "HTTP 500" in error
        assert "nothing was charged" in error
        assert env.host.image_budget.available("t") == 8


async def test_concurrent_calls_hit_the_image_lock_and_only_the_winner_pays(
    tmp_path: Path,
) -> None:
    source = HEADER + (
        f"first = api.v1.image.generate({SMALL}, 'samples': 2}})\n"
        f"second = api.v1.image.generate({SMALL}, 'samples': 2}})\n"
        "for pending in [first, second]:\n"
        "    try:\n"
        "        r = await pending\n"
        "        api.v1.log('ok', len(r['images']))\n"
        "    except Exception as e:\n"
        "        api.v1.log('refused', '429' in str(e))\n"
    )
    async with hosted(tmp_path, **GRANTED) as env:
        env.sim.settings.latency_ms = 200
        await env.run(source)
        assert sorted(env.lines()) == ["ok 2", "refused True"], env.lines(level="error")
        assert env.host.image_budget.available("t") == 6


# -- the budget on its own (real SQLite file, FakeClock) ----------------------------------------


async def test_reservations_race_never_exceed_capacity(tmp_path: Path) -> None:
    budget = ImageBudget(tmp_path / "b.sqlite3", ImageBudgetConfig(capacity=8), FakeClock())
    try:
        results = await asyncio.gather(
            *(budget.reserve("s", 1) for _ in range(30)), return_exceptions=True
        )
        taken = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, ImageBudgetExceeded)]
        assert (len(taken), len(refused)) == (8, 22)
        assert budget.available("s") == 0
        assert budget.available("other") == 8
    finally:
        budget.close()


async def test_in_flight_never_returns_and_a_crash_charges_it(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "b.sqlite3"
    interactions: dict[str, float] = {}
    budget = ImageBudget(path, clock=clock, last_interaction=interactions.get)
    reservation = await budget.reserve("s", 3)
    clock.advance(1000)
    interactions["s"] = clock.now()
    assert budget.available("s") == 5  # in flight: never returns, however long it runs
    await budget.reserve("s", 2)  # a second one, just now
    budget.close()  # the host "crashed" before settling either
    clock.advance(1)
    interactions["s"] = clock.now()
    reopened = ImageBudget(path, clock=clock, last_interaction=interactions.get)
    try:
        assert [(e.images, e.settled) for e in reopened.entries("s")] == [(3, True), (2, True)]
        # Both charged in full at their spend times: the old one has returned (window passed,
        # interaction after it), the recent one is still held: a crash refilled nothing.
        assert reopened.available("s") == 6
        assert not reservation.closed
    finally:
        reopened.close()


async def test_opening_leaves_another_live_owners_reservations_alone(tmp_path: Path) -> None:
    """``run`` and ``serve`` on one data folder: opening the budget charged every entry in
    flight in full, the other process's too, whose later settle then changed nothing. Only
    a dead owner's entries are charged now; a live one settles its own."""
    path, clock = tmp_path / "b.sqlite3", FakeClock()
    serving = ImageBudget(path, clock=clock)
    running = None
    try:
        reservation = await serving.reserve("s", 3)
        running = ImageBudget(path, clock=clock)  # opened while ``serving`` has one in flight
        assert [(e.images, e.settled) for e in running.entries("s")] == [(3, False)]
        await reservation.settle(1)
        assert [(e.images, e.settled) for e in running.entries("s")] == [(1, True)]
        await serving.reserve("s", 2)  # in flight when ``serving`` goes away
    finally:
        serving.close()
        if running is not None:
            running.close()
    reopened = ImageBudget(path, clock=clock)
    try:
        assert [(e.images, e.settled) for e in reopened.entries("s")] == [(1, True), (2, True)]
    finally:
        reopened.close()


async def test_a_settle_never_refunds_what_a_recovery_charged(tmp_path: Path) -> None:
    """An owner taken for dead (its lock gone) is charged in full; its late settle or release
    must not take that back."""
    path, clock = tmp_path / "b.sqlite3", FakeClock()
    first = ImageBudget(path, clock=clock)
    try:
        settled, released = await first.reserve("s", 3), await first.reserve("s", 2)
        first._owner.close()  # as if its process had died
        ImageBudget(path, clock=clock).close()  # a new owner recovers: both charged in full
        await settled.settle(1)
        await released.release()
        assert [(e.images, e.settled) for e in first.entries("s")] == [(3, True), (2, True)]
    finally:
        first.close()


async def test_a_budget_file_without_owners_is_upgraded(tmp_path: Path) -> None:
    """A file from before entries had owners: its in-flight entries are a dead host's."""
    path = tmp_path / "b.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE image_entries (id INTEGER PRIMARY KEY AUTOINCREMENT, script_id TEXT"
            " NOT NULL, images INTEGER NOT NULL, spent_at REAL NOT NULL, settled INTEGER NOT NULL)"
        )
        db.execute("INSERT INTO image_entries VALUES (1, 's', 4, 0.0, 0)")
    db.close()
    budget = ImageBudget(path, clock=FakeClock())
    try:
        assert [(e.images, e.settled) for e in budget.entries("s")] == [(4, True)]
        await (await budget.reserve("s", 1)).settle()
        assert budget.available("s") == 3
    finally:
        budget.close()


async def test_settle_partial_and_release(tmp_path: Path) -> None:
    budget = ImageBudget(tmp_path / "b.sqlite3", clock=FakeClock())
    try:
        first = await budget.reserve("s", 4)
        await first.settle(1)
        second = await budget.reserve("s", 2)
        await second.release()
        await second.release()  # idempotent
        assert budget.available("s") == 7
        with pytest.raises(ValueError, match="images: must be > 0"):
            await budget.reserve("s", 0)
        with pytest.raises(ValueError, match=r"images: must be 0\.\.8"):
            budget.ms_until_available("s", 9)
    finally:
        budget.close()


def test_example_script_runs_with_granted_permissions(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "image_portrait.py"
    command = [sys.executable, "-m", "nai_script", "run", str(script), "--data", str(tmp_path)]
    done = subprocess.run(
        [*command, "--timeout", "30", "--grant-permissions"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second, seed = done.stdout.splitlines()
    assert first.startswith("image 1: data:image/png;base64,")
    assert second.startswith("image 2: data:image/png;base64,")
    assert seed == "seed 1234"
