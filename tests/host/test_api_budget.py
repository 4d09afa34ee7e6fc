"""script.* budgets with a FakeClock: the 240 s / 360 s windows and the interaction rule."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.host.errors import LoadError
from nai_script.limits import FakeClock

SPEND = (
    "await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
    " {'model': 'glm-4-6', 'max_tokens': 1000})\n"
)
REPORT = (
    "def report():\n"
    "    api.v1.log(api.v1.script.getAllowedOutput(),"
    " api.v1.script.getTimeUntilAllowedOutput(2048))\n"
    "api.v1.hooks.register('onGenerationEnd', report)\n"
)


async def test_output_returns_only_after_window_and_interaction(tmp_path: Path) -> None:
    clock = FakeClock()
    async with hosted(tmp_path, clock=clock) as env:
        await env.host.record_interaction("t")  # an interaction BEFORE the spend does not count
        await env.run(SPEND + REPORT + "report()\n")
        assert env.lines() == ["1048 240000"]
        clock.advance(239.9)
        await env.host.fire_hook("onGenerationEnd")
        assert env.lines()[-1] == "1048 100"
        clock.advance(0.2)
        await env.host.fire_hook("onGenerationEnd")
        assert env.lines()[-1] == "1048 0"  # time has passed, but no interaction since
        await env.host.record_interaction("t")
        await env.host.fire_hook("onGenerationEnd")
        assert env.lines()[-1] == "2048 0"


async def test_manual_generation_counts_as_interaction(tmp_path: Path) -> None:
    clock = FakeClock()
    async with hosted(tmp_path, clock=clock) as env:
        await env.run(SPEND + REPORT)
        clock.advance(1)
        await env.host.record_manual_generation()
        clock.advance(240)
        await env.host.fire_hook("onGenerationEnd")
        assert env.lines()[-1] == "2048 0"


async def test_input_window_is_360s_and_capacity_twice_context(tmp_path: Path) -> None:
    clock = FakeClock()
    source = (
        "m = [{'role': 'user', 'content': 'word ' * 200}]\n"
        "n = api.v1.script.countUncachedInputTokens(m)\n"
        "before = api.v1.script.getAllowedInput()\n"
        "await api.v1.generate(m, {'model': 'glm-4-6', 'max_tokens': 1})\n"
        "api.v1.log(before, before - api.v1.script.getAllowedInput() == n,"
        " api.v1.script.getTimeUntilAllowedInput(before))\n"
    )
    async with hosted(tmp_path, clock=clock) as env:
        await env.run(source)
        before, same, wait_ms = env.lines()[0].split()
        assert int(before) == 2 * 28672 == env.host.input_capacity("glm-4-6")
        assert same == "True"
        assert wait_ms == "360000"


async def test_wait_for_allowed_output_waits_for_both_conditions(tmp_path: Path) -> None:
    clock = FakeClock()
    source = (
        SPEND
        + SPEND
        + (
            "await api.v1.script.waitForAllowedOutput(1500)\n"
            "api.v1.log('waited', api.v1.script.getAllowedOutput())\n"
        )
    )
    async with hosted(tmp_path, clock=clock) as env:
        path = env.folder / "w.py"
        path.write_text(source)
        task = asyncio.ensure_future(env.host.load_script(path))
        for _ in range(200):
            if clock.sleepers:
                break
            await asyncio.sleep(0.01)
        clock.advance(241)
        await asyncio.sleep(0.05)
        assert not task.done()  # time passed, no interaction yet
        await env.host.record_interaction("w")
        await asyncio.wait_for(task, 10)
        assert env.lines("w")[-1] == "waited 2048"


async def test_wait_that_can_never_fit_is_a_clear_error(tmp_path: Path) -> None:
    source = (
        "try:\n    await api.v1.script.waitForAllowedOutput(5000)\n"
        "except ValueError as e:\n    api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert "5000 tokens can never be available (capacity 2048)" in env.lines()[0]


async def test_bad_model_argument_names_the_call(tmp_path: Path) -> None:
    source = (
        "for call in (lambda: api.v1.script.getAllowedInput(5),"
        " lambda: api.v1.script.getAllowedInput('no-such-model')):\n"
        "    try:\n        call()\n    except ValueError as e:\n        api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        wrong_type, unknown = env.lines()
        assert wrong_type == ("script.getAllowedInput model: must be a model id string, got 5")
        assert unknown.startswith("script.getAllowedInput model: unknown model")
        assert "no-such-model" in unknown


async def test_restart_on_same_data_dir_refills_nothing(tmp_path: Path) -> None:
    clock = FakeClock()
    async with hosted(tmp_path, clock=clock) as env:
        await env.run(SPEND)
    async with hosted(tmp_path, clock=clock) as env:
        await env.run("api.v1.log(api.v1.script.getAllowedOutput())\n")
        assert env.lines() == ["1048"]


async def test_reload_keeps_budget_and_failed_compile_keeps_old_version(tmp_path: Path) -> None:
    async with hosted(tmp_path) as env:
        script = await env.run(SPEND + "def ok(): return 'v1'\n")
        path = script.path
        path.write_text("import os\n")
        with pytest.raises(LoadError, match=r"t\.py:1"):
            await env.host.reload_script(path)
        assert await env.host.scripts[0].worker.invoke("ok") == "v1"  # type: ignore[union-attr]
        path.write_text("api.v1.log(api.v1.script.getAllowedOutput())\n")
        new = await env.host.reload_script(path)
        await env.host.wait_idle(new)
        assert env.lines()[-1] == "1048"
        assert script.worker is not None
        assert script.worker.exit_reason is not None


async def test_interaction_listeners_hear_script_and_manual_interactions(tmp_path: Path) -> None:
    heard: list[str | None] = []
    async with hosted(tmp_path) as env:
        env.host.interaction_listeners.append(heard.append)
        await env.host.record_interaction("t")
        await env.host.record_manual_generation()
    assert heard == ["t", None]
