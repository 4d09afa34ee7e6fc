"""onResponse in NovelAI's shape (script-types.d.ts), end to end: real scripts, the simulator
(paced, so every token is its own batch and its own call), a real story file. Before, the
params had no ``logprobs`` and only ``text`` (its first string) was honoured: ``seenData``,
``stopGeneration``, ``tokenIds`` and ``logprobs`` in an answer were ignored."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import EditorEnv, editor_env

from nai_script.sim import SimSettings

PACED = SimSettings(tokens_per_second=50)

# Logs, for every call, the params and the document as it stands when the hook is asked.
LOG_CALL = (
    "calls = []\n"
    "async def log_call(p):\n"
    "    calls.append(p)\n"
    "    doc = await api.v1.document.textFromSelection()\n"
    "    api.v1.log({'p': p, 'doc': doc})\n"
)


def calls(e: EditorEnv, script_id: str | None = None) -> list[dict[str, Any]]:
    """``{'p': params, 'doc': document text}`` per onResponse call, in order."""
    return [json.loads(line) for line in e.env.lines(script_id) if line.startswith('{"p"')]


def errors(e: EditorEnv) -> list[str]:
    return e.env.lines(level="error")


def responder(answer: str) -> str:
    """A script whose onResponse logs the call and returns ``answer`` (an expression of
    ``p`` and ``n``, the call's number from 1)."""
    return (
        LOG_CALL + "async def respond(p):\n"
        "    await log_call(p)\n"
        "    n = len(calls)\n"
        f"    return {answer}\n"
        "api.v1.hooks.register('onResponse', respond)\n"
    )


async def test_params_are_novelai_shaped_with_empty_logprobs(tmp_path: Path) -> None:
    async with editor_env(tmp_path, PACED) as e:
        script = await e.env.run(
            responder("None")
            + "api.v1.hooks.register('onGenerationEnd', lambda p: api.v1.log(p.continuityId))\n"
        )
        await e.editor.update_settings({"params": {"max_tokens": 5}})
        model = (await e.editor.settings()).params.model
        result = await e.editor.send("Go.")
        seen = [call["p"] for call in calls(e, script.id)]
        assert len(seen) >= 3, "paced: one call per token"
        continuity = e.env.lines(script.id)[-1]
        for params in seen:
            assert set(params) == {
                "continuityId",
                "text",
                "logprobs",
                "tokenIds",
                "final",
                "model",
            }
            assert params["logprobs"] == [], "logprobs are not enabled: an empty array"
            assert params["model"] == model
            assert params["continuityId"] == continuity
            assert len(params["text"]) == len(params["tokenIds"]) == 1, "nothing held"
            assert all(isinstance(i, int) for i in params["tokenIds"][0])
        assert [p["final"] for p in seen] == [False] * (len(seen) - 1) + [True]
        assert [bool(p["tokenIds"][0]) for p in seen[:-1]] == [True] * (len(seen) - 1)
        assert "".join(p["text"][0] for p in seen) == result.text
        assert await e.editor.text() == "Go." + result.text


async def test_stop_generation_ends_the_stream_after_that_batch(tmp_path: Path) -> None:
    first = responder(
        "{'text': [t.upper() for t in p.text], 'stopGeneration': True} if n == 2 else None"
    )
    second = (
        LOG_CALL + "api.v1.hooks.register('onResponse', log_call)\n"
        "api.v1.hooks.register('onGenerationEnd', lambda p: api.v1.log([p.stopped, p.text]))\n"
    )
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(first, "a.py")
        b = await e.env.run(second, "b.py")
        await e.editor.update_settings({"params": {"max_tokens": 300}})  # 6 s if not stopped
        e.drain()
        began = time.monotonic()
        result = await e.editor.send("Go.")
        assert time.monotonic() - began < 3, "the backend stream is cancelled, not read out"
        assert result.stopped
        assert result.stoppedBy == a.id
        assert result.error is None
        asked = [call["p"] for call in calls(e, a.id)]
        assert len(asked) == 2, "no call after the stop: the stream ended"
        assert not asked[-1]["final"]
        assert len(calls(e, b.id)) == 1, "the stopping answer ends the chain"
        second_batch = asked[1]["text"][0]
        assert result.text == asked[0]["text"][0] + second_batch.upper(), (
            "what was written stays, the stopping batch as the script changed it"
        )
        assert await e.editor.text() == "Go." + result.text
        assert e.env.lines(b.id)[-1] == json.dumps([True, result.text]), "onGenerationEnd fires"
        ends = [ev for ev in e.drain() if ev["type"] == "generation.end"]
        assert [ev["stopped"] for ev in ends] == [True]
        assert not errors(e)


async def test_seen_data_false_holds_the_call_for_the_next(tmp_path: Path) -> None:
    """Not seen: not written, and the next call (to every script) carries it first."""
    second = LOG_CALL + "api.v1.hooks.register('onResponse', log_call)\n"
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder("{'seenData': False} if n == 1 else None"), "a.py")
        b = await e.env.run(second, "b.py")
        await e.editor.update_settings({"params": {"max_tokens": 6}})
        result = await e.editor.send("Go.")
        asked = calls(e, a.id)
        assert [call["p"] for call in calls(e, b.id)] == [call["p"] for call in asked]
        one, two, three = (call["p"] for call in asked[:3])
        assert len(one["text"]) == 1
        assert two["text"] == [one["text"][0], two["text"][1]]
        assert two["tokenIds"] == [one["tokenIds"][0], two["tokenIds"][1]]
        assert len(three["text"]) == 1, "the second call saw both entries"
        assert asked[1]["doc"] == "Go.", "the held entry was not written"
        assert asked[2]["doc"] == "Go." + "".join(two["text"])
        assert result.text == "".join(two["text"]) + "".join(
            call["p"]["text"][0] for call in asked[2:]
        )
        assert await e.editor.text() == "Go." + result.text


async def test_seen_data_number_holds_the_rest_as_answered(tmp_path: Path) -> None:
    """``n``: the first n entries (of the text as answered) are written; the rest come back
    first in the next call, an entry without token ids with ``[]``."""
    answer = (
        "{'seenData': False} if n == 1 else "
        "{'text': [p.text[0].upper(), p.text[1], 'X'], 'seenData': 1} if n == 2 else None"
    )
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder(answer))
        await e.editor.update_settings({"params": {"max_tokens": 6}})
        result = await e.editor.send("Go.")
        asked = calls(e, a.id)
        one, two, three = (call["p"] for call in asked[:3])
        assert len(two["text"]) == 2
        assert three["text"] == [two["text"][1], "X", three["text"][2]]
        assert three["tokenIds"] == [two["tokenIds"][1], [], three["tokenIds"][2]]
        assert asked[2]["doc"] == "Go." + one["text"][0].upper()
        assert result.text.startswith(one["text"][0].upper() + two["text"][1] + "X")
        assert await e.editor.text() == "Go." + result.text
        assert not errors(e)


async def test_seen_data_has_no_effect_on_the_final_call(tmp_path: Path) -> None:
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder("{'seenData': False}"))
        await e.editor.update_settings({"params": {"max_tokens": 5}})
        result = await e.editor.send("Go.")
        asked = calls(e, a.id)
        assert len(asked) >= 3
        assert [call["doc"] for call in asked] == ["Go."] * len(asked), "all held till the end"
        final = asked[-1]["p"]
        assert final["final"]
        assert len(final["text"]) == len(asked), "one entry per call, all carried"
        assert result.text == "".join(final["text"])
        assert result.text
        assert await e.editor.text() == "Go." + result.text


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("{'text': ['BAD'], 'seenData': len(p.text) + 1}", "result.seenData: must be true, fal"),
        ("{'text': ['BAD'], 'seenData': -1}", "from 0 to 1 (the entries of text), got -1"),
        ("{'text': ['BAD'], 'seenData': 'all'}", "result.seenData"),
        ("{'text': ['BAD'], 'tokenIds': [[1], [2]]}", "result.tokenIds: must have one list per"),
        ("{'text': ['BAD'], 'tokenIds': []}", "entry of text (1), got 0"),
        ("{'text': ['BAD'], 'logprobs': [[], []]}", "result.logprobs: must have one list per"),
    ],
)
async def test_a_bad_answer_is_reported_and_ignored(
    tmp_path: Path, answer: str, problem: str
) -> None:
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder(answer))
        await e.editor.update_settings({"params": {"max_tokens": 3}})
        result = await e.editor.send("Go.")
        asked = calls(e, a.id)
        bad = [line for line in errors(e) if "hook onResponse returned a bad value" in line]
        assert len(bad) == len(asked), errors(e)
        assert problem in bad[0]
        assert "BAD" not in result.text, "the answer is ignored whole"
        assert [len(call["p"]["text"]) for call in asked] == [1] * len(asked), "nothing held"
        assert await e.editor.text() == "Go." + result.text


@pytest.mark.parametrize(
    ("answer", "written"),
    [
        ("{'text': ['<', p.text[0], '>']}", "<{}>"),
        ("{'text': '[' + p.text[0] + ']'}", "[{}]"),  # one string is one entry, as before
        ("{'text': []}", ""),  # no entries: nothing written
    ],
)
async def test_text_answer_is_written_concatenated(
    tmp_path: Path, answer: str, written: str
) -> None:
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder(answer))
        await e.editor.update_settings({"params": {"max_tokens": 4}})
        result = await e.editor.send("Go.")
        pieces = [call["p"]["text"][0] for call in calls(e, a.id)]
        assert result.text == "".join(written.format(piece) for piece in pieces)
        assert await e.editor.text() == "Go." + result.text
        assert not errors(e)


async def test_token_ids_and_logprobs_answers_write_nothing(tmp_path: Path) -> None:
    """Accepted when shaped right; the text written is unchanged, and held entries come back
    with the token ids the answer gave."""
    answer = (
        "{'tokenIds': [[7]] * len(p.text), 'logprobs': [[{'chosen': ['x', -0.1]}]] * "
        "len(p.text), 'seenData': n > 1}"
    )
    async with editor_env(tmp_path, PACED) as e:
        a = await e.env.run(responder(answer))
        await e.editor.update_settings({"params": {"max_tokens": 4}})
        result = await e.editor.send("Go.")
        asked = [call["p"] for call in calls(e, a.id)]
        assert asked[1]["tokenIds"][0] == [7]
        assert asked[1]["text"][0] == asked[0]["text"][0]
        assert asked[1]["logprobs"] == []
        assert result.text == asked[1]["text"][0] + "".join(p["text"][-1] for p in asked[1:])
        assert await e.editor.text() == "Go." + result.text
        assert not errors(e)
