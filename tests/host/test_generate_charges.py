"""What a generate charges when it is cancelled or fails at awkward moments (real simulator,
real workers, real SQLite files)."""

from __future__ import annotations

from pathlib import Path

from host_helpers import hosted

from nai_script.sim import SimSettings

#: Long enough (over 32 KiB) that the prompt is tokenized on a thread: the call waits there.
LONG = "'word ' * 7000"


async def test_a_cancel_while_the_prompt_is_counted_stops_the_generation(tmp_path: Path) -> None:
    """The signal's listener was added only once the stream started: a cancel that came while
    the prompt was tokenized (or the reserve queued) was lost, and the generation ran to
    max_tokens and was charged in full."""
    source = (
        "s = await api.v1.createCancellationSignal()\n"
        f"m = [{{'role': 'user', 'content': {LONG}}}]\n"
        "t = api.v1.generate(m, {'model': 'glm-4-6', 'max_tokens': 300}, None, 'background', s)\n"
        "await s.cancel()\n"
        "r = await t\n"
        "c = r.choices[0]\n"
        "api.v1.log(c.finish_reason, len(c.token_ids), api.v1.script.getAllowedOutput())\n"
    )
    async with hosted(tmp_path, SimSettings(latency_ms=2000)) as env:
        await env.run(source)
        assert env.lines() == ["cancelled 0 2048"], env.lines(level="error")
        assert env.host.limits.diagnostics("t").input.held == 0
