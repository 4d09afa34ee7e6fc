"""api.v1.generate end to end: a sandboxed script, the host, the simulator over loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from host_helpers import hosted

from nai_script.sim import SimSettings

GEN = "await api.v1.generate([{'role': 'user', 'content': 'Hi'}], PARAMS)"


async def test_generate_streams_to_callback_and_charges_what_streamed(tmp_path: Path) -> None:
    source = (
        "chunks = []\n"
        "def cb(choices, final):\n"
        "    chunks.append((choices[0].text, final))\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 30}, cb)\n"
        "c = r.choices[0]\n"
        "api.v1.log(len(c.token_ids), c.finish_reason, c.index)\n"
        "api.v1.log(''.join(t for t, f in chunks if not f) == c.text, chunks[-1][1])\n"
        "api.v1.log(sum(1 for t, f in chunks if f))\n"
        "api.v1.log(api.v1.script.getAllowedOutput())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["30 length 0", "True True", "1", str(2048 - 30)]
        diag = env.host.diagnostics("t")
        assert diag.limits.recent_generations[0].outcome == "succeeded"
        assert diag.behaviour == "blocking"


async def test_prompt_cached_after_success(tmp_path: Path) -> None:
    source = (
        "m = [{'role': 'user', 'content': 'word ' * 300}]\n"
        "a = api.v1.script.countUncachedInputTokens(m)\n"
        "await api.v1.generate(m, {'model': 'glm-4-6', 'max_tokens': 1})\n"
        "b = api.v1.script.countUncachedInputTokens(m)\n"
        "api.v1.log(a > 64, b == a % 64, api.v1.script.getAllowedInput())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        capacity = env.host.input_capacity("glm-4-6")
        line = env.lines()[0].split()
        assert line[:2] == ["True", "True"]
        assert int(line[2]) < capacity


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("{'max_tokens': 5}", "generate params.model: Field required"),
        (
            "{'model': 'glm-4-6', 'max_tokens': 5000}",
            "generate params.max_tokens: must be between 1 and 2048",
        ),
        (
            "{'model': 'glm-4-6', 'max_tokens': 0}",
            "generate params.max_tokens: must be between 1 and 2048",
        ),
        ("{'model': 'glm-4-6', 'top_p': 2}", "generate params.top_p:"),
        ("{'model': 'glm-4-6', 'bogus': 1}", "generate params.bogus:"),
        ("{'model': 'no-such-model'}", "generate params.model: unknown model 'no-such-model'"),
    ],
)
async def test_bad_params_name_the_field(tmp_path: Path, params: str, message: str) -> None:
    source = f"try:\n    {GEN.replace('PARAMS', params)}\nexcept ValueError as e:\n    api.v1.log(str(e))\n"
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines()[0].startswith(message), env.lines()
        assert env.host.limits.allowed_output("t") == 2048


async def test_bad_messages_name_the_index(tmp_path: Path) -> None:
    source = (
        "try:\n"
        "    await api.v1.generate([{'role': 'user', 'content': 'a'}, {'role': 'bot',"
        " 'content': 'b'}], {'model': 'glm-4-6'})\n"
        "except ValueError as e:\n    api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines()[0].startswith("generate messages[1].role:")


async def test_second_concurrent_generation_fails_at_once_and_costs_nothing(
    tmp_path: Path,
) -> None:
    source = (
        "p = {'model': 'glm-4-6', 'max_tokens': 20}\n"
        "m = [{'role': 'user', 'content': 'Hi'}]\n"
        "first = api.v1.generate(m, p)\n"
        "try:\n"
        "    await api.v1.generate(m, p)\n"
        "except Exception as e:\n"
        "    api.v1.log('second:', str(e))\n"
        "r = await first\n"
        "api.v1.log(len(r.choices[0].token_ids), api.v1.script.getAllowedOutput())\n"
    )
    async with hosted(tmp_path, SimSettings(tokens_per_second=400)) as env:
        await env.run(source)
        assert env.lines() == ["second: A generation is already in progress", "20 2028"]


async def test_refused_budget_costs_nothing(tmp_path: Path) -> None:
    source = (
        "p = {'model': 'glm-4-6', 'max_tokens': 2000}\n"
        "m = [{'role': 'user', 'content': 'Hi'}]\n"
        "await api.v1.generate(m, p)\n"
        "left = api.v1.script.getAllowedOutput()\n"
        "try:\n"
        "    await api.v1.generate(m, p)\n"
        "except Exception as e:\n"
        "    api.v1.log('refused:', 'output budget' in str(e))\n"
        "api.v1.log(left == api.v1.script.getAllowedOutput())\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == ["refused: True", "True"]


async def test_cancellation_charges_only_what_streamed(tmp_path: Path) -> None:
    source = (
        "s = await api.v1.createCancellationSignal()\n"
        "n = []\n"
        "async def cb(choices, final):\n"
        "    n.append(1)\n"
        "    if len(n) == 3:\n"
        "        await s.cancel()\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 1500}, cb, 'background', s)\n"
        "got = len(r.choices[0].token_ids)\n"
        "api.v1.log(r.choices[0].finish_reason, s.cancelled)\n"
        "api.v1.log(got < 1500, 2048 - api.v1.script.getAllowedOutput() == got)\n"
    )
    async with hosted(tmp_path, SimSettings(tokens_per_second=2000)) as env:
        await env.run(source)
        assert env.lines() == ["cancelled True", "True True"]
        assert env.host.diagnostics("t").limits.recent_generations[0].outcome == "failed"
        assert env.host.diagnostics("t").behaviour == "background"


async def test_cancelled_signal_refuses_before_sending(tmp_path: Path) -> None:
    source = (
        "s = await api.v1.createCancellationSignal()\nawait s.cancel()\n"
        "try:\n"
        "    await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6'}, None, 'blocking', s)\n"
        "except Exception as e:\n    api.v1.log(str(e))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert "cancelled before it started" in env.lines()[0]
        assert env.host.limits.allowed_output("t") == 2048


async def test_signal_has_novelais_members(tmp_path: Path) -> None:
    """NovelAI's ``CancellationSignal``: ``cancelled`` a boolean read live, ``cancel()`` a
    Promise, ``dispose()`` a value. ``signal.cancelled`` was an awaitable, always truthy, so a
    ported ``if signal.cancelled:`` took the branch before any cancel; ``dispose`` was missing.
    A disposed signal no longer stops the generation it was given to."""
    source = (
        "s = await api.v1.createCancellationSignal()\n"
        "api.v1.log('before', s.cancelled, 'yes' if s.cancelled else 'no')\n"
        "await s.cancel()\n"
        "api.v1.log('after', s.cancelled, 'yes' if s.cancelled else 'no')\n"
        "try:\n    await s.cancelled\nexcept TypeError:\n    api.v1.log('not awaitable')\n"
        "d = await api.v1.createCancellationSignal()\n"
        "api.v1.log('dispose', d.dispose())\n"
        "def cb(choices, final):\n"
        "    if not final:\n        d.cancel()\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 20}, cb, 'background', d)\n"
        "api.v1.log(r.choices[0].finish_reason, d.cancelled)\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "before False no",
            "after True yes",
            "not awaitable",
            "dispose None",
            "length True",
        ], env.lines(level="error")


@pytest.mark.parametrize(
    ("fault", "words", "charged"),
    [
        ("429", "429", 0),
        ("500", "server error", 0),
        ("drop@5", "failed", 5),
    ],
)
async def test_backend_faults_reach_the_script_and_budgets_are_right(
    tmp_path: Path, fault: str, words: str, charged: int
) -> None:
    source = (
        "try:\n"
        "    await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 50})\n"
        "except Exception as e:\n    api.v1.log('error:', str(e))\n"
        "await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 10})\n"
        "api.v1.log('then ok')\n"
    )
    async with hosted(tmp_path, SimSettings(faults=f"{fault}#1")) as env:
        await env.run(source)
        lines = env.lines()
        assert lines[0].startswith("error:"), lines
        assert words in lines[0], lines
        assert lines[1] == "then ok"
        assert env.host.limits.allowed_output("t") == 2048 - charged - 10
        outcomes = [g.outcome for g in env.host.diagnostics("t").limits.recent_generations]
        assert outcomes == ["failed", "succeeded"]


async def test_callback_raising_is_reported_and_generation_completes(tmp_path: Path) -> None:
    source = (
        "def cb(choices, final):\n    raise RuntimeError('bad callback')\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 8}, cb)\n"
        "api.v1.log(len(r.choices[0].token_ids))\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        assert env.lines() == ["8"]
        assert script.failures == 1
        assert "bad callback" in env.lines(level="error")[0]


async def test_slow_async_callback_sees_every_delta_then_final_before_generate_returns(
    tmp_path: Path,
) -> None:
    # The tail (last delivery + final call) is sent without a round trip between them: the
    # worker must still run them in order, each after the previous has finished.
    source = (
        "events = []\n"
        "async def cb(choices, final):\n"
        "    events.append(('start', final))\n"
        "    await api.v1.timers.sleep(1)\n"
        "    events.append(('end', final))\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 200}, cb)\n"
        "events.append(('returned', None))\n"
        "api.v1.log(events[-3:])\n"
        "api.v1.log(all(events[i][0] == 'start' and events[i + 1][0] == 'end'"
        " for i in range(0, len(events) - 1, 2)))\n"
        "api.v1.log(sum(1 for e in events if e == ('start', True)))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            '[["start", true], ["end", true], ["returned", null]]',
            "True",
            "1",
        ]


async def test_callback_raising_on_a_late_delivery_gets_no_final_call(tmp_path: Path) -> None:
    source = (
        "seen = []\n"
        "def cb(choices, final):\n"
        "    seen.append(final)\n"
        "    if len(seen) == 2:\n"
        "        raise RuntimeError('late failure')\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 300}, cb)\n"
        "api.v1.log(len(r.choices[0].token_ids), len(seen), True in seen)\n"
    )
    async with hosted(tmp_path, SimSettings(tokens_per_second=3000)) as env:
        script = await env.run(source)
        assert env.lines() == ["300 2 False"]
        assert script.failures == 1
        assert len([line for line in env.lines(level="error") if "late failure" in line]) == 1
