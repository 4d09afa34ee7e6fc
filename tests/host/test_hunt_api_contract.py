"""api.v1 as a NovelAI script author sees it, from real scripts in real workers against the
simulator: error messages, argument names, and the shapes NovelAI's type definitions give."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY, hosted


async def test_a_function_or_api_object_in_a_bad_argument_reads_as_such(tmp_path: Path) -> None:
    """A function nested in a bad ``model`` showed as ``CallbackHandle(id=1)`` (the worker's
    internal id), and an api object as ``RemoteObject(target=<nai_script...RolloverObject object
    at 0x7f...>, methods={...})``: the host's class and a memory address."""
    source = TRY + (
        "def f():\n    pass\n"
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "await ta('fn', lambda: api.v1.tokenizer.encode('x', {'a': f}))\n"
        "await ta('obj', lambda: api.v1.maxTokens([h]))\n"
        "t('both', lambda: api.v1.random.int({'f': f, 'h': h}, 5))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        assert env.lines() == [
            "fn ValueError tokenizer.encode model: must be a model id string, got {'a': <function>}",
            "obj ValueError maxTokens model: must be a model id string, got [<api object>]",
            "both ValueError random.int min: must be an integer, got "
            "{'f': <function>, 'h': <api object>}",
        ]
