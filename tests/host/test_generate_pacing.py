"""``generate`` callback pacing: deliveries start at most once per ``DELIVERY_INTERVAL_S``.

A fast stream is merged into few deliveries, a NovelAI-paced one arrives chunk by chunk, the
stream's end goes at once, and the closing ``callback(choices, True)`` still runs before the
script's ``await generate(...)`` returns (the reply is ordered after it in the worker). Real
simulator over loopback, real host, real worker; the test calls the script's functions
directly so it can time just the generation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from host_helpers import hosted

from nai_script.host.api.stream_collector import DELIVERY_INTERVAL_S
from nai_script.host.script import LoadedScript
from nai_script.sim import SimSettings

SOURCE = """
MESSAGES = [{'role': 'user', 'content': 'Hi'}]
calls = []
events = []
seen = []
signal = await api.v1.createCancellationSignal()

def record(choices, final):
    c = choices[0]
    calls.append({'text': c.text, 'ids': list(c.token_ids), 'final': final,
                  'finish': c.finish_reason})

async def collect(choices, final):
    record(choices, final)

async def slow(choices, final):
    events.append('start')
    await api.v1.timers.sleep(50)
    record(choices, final)
    events.append('final end' if final else 'end')

async def cancelling(choices, final):
    if final:
        return
    seen.extend(choices[0].token_ids)
    if len(seen) >= 50:
        await signal.cancel()

async def collect_then_cancel(choices, final):
    record(choices, final)
    if sum(len(call['ids']) for call in calls) >= 5:
        await signal.cancel()

CALLBACKS = {'collect': collect, 'slow': slow, 'cancelling': cancelling,
             'collect_then_cancel': collect_then_cancel}

async def go(max_tokens, callback='collect', with_signal=False):
    extra = ['blocking', signal] if with_signal else []
    r = await api.v1.generate(MESSAGES, {'model': 'glm-4-6', 'max_tokens': max_tokens},
                              CALLBACKS[callback], *extra)
    events.append('returned')
    c = r.choices[0]
    return {'calls': calls, 'events': events, 'text': c.text, 'ids': list(c.token_ids),
            'finish': c.finish_reason, 'seen': len(seen),
            'left': api.v1.script.getAllowedOutput()}
"""


async def run_go(script: LoadedScript, *args: Any) -> tuple[dict[str, Any], float]:
    """Call the script's ``go``; its result and the seconds it took."""
    assert script.worker is not None
    started = time.perf_counter()
    result: dict[str, Any] = await script.worker.invoke("go", *args)
    return result, time.perf_counter() - started


def split_calls(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(non-final calls, final calls), after checking that exactly one final call came last."""
    calls: list[dict[str, Any]] = result["calls"]
    finals = [call for call in calls if call["final"]]
    assert len(finals) == 1, [call["final"] for call in calls]
    assert calls[-1]["final"], "the final call must be the last one"
    assert finals[0]["text"] == ""
    assert finals[0]["ids"] == []
    return calls[:-1], finals


def assert_deltas_rebuild_the_result(deltas: list[dict[str, Any]], result: dict[str, Any]) -> None:
    assert "".join(call["text"] for call in deltas) == result["text"]
    assert [i for call in deltas for i in call["ids"]] == result["ids"]


async def test_a_fast_stream_is_merged_into_few_deliveries(tmp_path: Path) -> None:
    async with hosted(tmp_path, SimSettings(tokens_per_second=0)) as env:
        script = await env.load(SOURCE)
        result, elapsed = await run_go(script, 2048)
    deltas, finals = split_calls(result)
    assert len(result["ids"]) == 2048
    assert result["finish"] == "length"
    assert_deltas_rebuild_the_result(deltas, result)
    assert finals[0]["finish"] == "length"
    # One delivery may start per interval, plus the first and the end's flush.
    assert len(deltas) <= elapsed / DELIVERY_INTERVAL_S + 3, (len(deltas), elapsed)
    assert len(deltas) < 2048 // 8
    assert max(len(call["ids"]) for call in deltas) > 1  # something was merged


async def test_a_paced_stream_arrives_chunk_by_chunk(tmp_path: Path) -> None:
    # 25 tokens/s: chunks 40 ms apart, well over the 16 ms interval.
    async with hosted(tmp_path, SimSettings(tokens_per_second=25)) as env:
        script = await env.load(SOURCE)
        result, _ = await run_go(script, 30)
    deltas, _ = split_calls(result)
    assert len(result["ids"]) == 30
    assert [len(call["ids"]) for call in deltas] == [1] * 30
    assert_deltas_rebuild_the_result(deltas, result)
    assert deltas[-1]["finish"] == "length"


async def test_a_slow_callback_gets_every_token_once_and_finishes_first(tmp_path: Path) -> None:
    async with hosted(tmp_path, SimSettings(tokens_per_second=0)) as env:
        script = await env.load(SOURCE)
        result, _ = await run_go(script, 300, "slow")
    deltas, _ = split_calls(result)
    assert len(result["ids"]) == 300
    assert_deltas_rebuild_the_result(deltas, result)
    # Each call ran to its end before the next started, and the closing one before the reply.
    events = result["events"]
    assert events[-2:] == ["final end", "returned"]
    assert events[:-1] == ["start", "end"] * len(deltas) + ["start", "final end"]


async def test_cancelling_from_the_callback_still_stops_a_full_speed_stream(
    tmp_path: Path,
) -> None:
    async with hosted(tmp_path, SimSettings(tokens_per_second=0)) as env:
        script = await env.load(SOURCE)
        result, _ = await run_go(script, 2048, "cancelling", True)
        charged = 2048 - env.host.limits.allowed_output(script.id)
    got = len(result["ids"])
    assert result["finish"] == "cancelled"
    assert 50 <= result["seen"] <= got < 2048
    assert charged == got
    assert result["left"] == 2048 - got


async def test_a_cancelled_stream_ends_with_one_closing_call_and_no_extra_delivery(
    tmp_path: Path,
) -> None:
    async with hosted(tmp_path, SimSettings(tokens_per_second=100)) as env:
        script = await env.load(SOURCE)
        result, _ = await run_go(script, 200, "collect_then_cancel", True)
    deltas, finals = split_calls(result)
    assert result["finish"] == "cancelled"
    assert finals[0]["finish"] == "cancelled"
    assert 5 <= len(result["ids"]) < 200
    assert_deltas_rebuild_the_result(deltas, result)
    # Only the closing call says "cancelled"; no empty delivery just to carry it.
    assert all(call["finish"] is None for call in deltas)
    assert all(call["ids"] for call in deltas)


async def test_the_reply_is_written_before_the_settle_commits(tmp_path: Path) -> None:
    """The settle's commit is deferred to the end of a loop iteration so the script's result
    goes first; the closing delivery, queued after the settle, once yielded the iteration that
    ran the commit ahead of the reply."""
    async with hosted(tmp_path, SimSettings(tokens_per_second=0)) as env:
        script = await env.run(SOURCE)
        worker = script.worker
        assert worker is not None
        events: list[str] = []
        store = env.host.limits._store
        commit = store._commit_deferred
        stdin: Any = worker._proc.stdin
        write = stdin.write

        def committing() -> None:
            events.append("commit")
            commit()

        def writing(data: bytes) -> None:
            events.append("reply" if b'"t":"reply"' in data else "write")
            write(data)

        store._commit_deferred = committing  # type: ignore[method-assign]
        stdin.write = writing
        result, _ = await run_go(script, 20)
        assert len(result["ids"]) == 20
        assert "reply" in events, events
        assert "commit" in events, events
        assert events.index("reply") < events.index("commit"), events
