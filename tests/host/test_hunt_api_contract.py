"""api.v1 as a NovelAI script author sees it, from real scripts in real workers against the
simulator: error messages, argument names, and the shapes NovelAI's type definitions give."""

from __future__ import annotations

from pathlib import Path

from host_helpers import TRY, hosted
from test_api_editor import ran_with_all_edits


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


async def test_every_usage_error_starts_with_the_call_it_is_about(tmp_path: Path) -> None:
    """docs/api.md: a bad argument is a ``ValueError`` naming the call and the argument. Shared
    validators named only the argument (``params.model: Field required`` from ``generate``,
    ``hooks: unknown hook``, ``permissions: unknown permission``), and the budget calls named
    half the call (``getTimeUntilAllowedOutput: ...`` for ``script.getTimeUntilAllowedOutput``)."""
    source = TRY + (
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "await ta('a', lambda: api.v1.generate([{'role': 'user', 'content': 'x'}], {}))\n"
        "await ta('b', lambda: api.v1.generate([{'role': 'bot', 'content': 'x'}], {'model': 'm'}))\n"
        "t('c', lambda: api.v1.hooks.register('onNothing', lambda: None))\n"
        "t('d', lambda: api.v1.permissions.has('root'))\n"
        "t('e', lambda: api.v1.script.getTimeUntilAllowedOutput(-1))\n"
        "await ta('f', lambda: api.v1.maxTokens('nope'))\n"
        "t('g', lambda: h.remove(-1))\n"
    )
    async with hosted(tmp_path) as env:
        await env.run(source)
        heads = [line.split(":")[0] for line in env.lines()]
        assert heads == [
            "a ValueError generate params.model",
            "b ValueError generate messages[0].role",
            "c ValueError hooks.register name",
            "d ValueError permissions.has permission",
            "e ValueError script.getTimeUntilAllowedOutput tokens",
            "f ValueError maxTokens model",
            "g ValueError rolloverHelper.remove n",
        ]


async def test_history_node_ids_are_checked_and_lookups_answer_as_novelai_does(
    tmp_path: Path,
) -> None:
    """``nodeState(5)`` looked up node '5' and raised ``ApiError`` (a bad argument is a
    ``ValueError``); ``nodeState`` of an unknown node raised where NovelAI resolves
    ``undefined``; ``jump`` resolved ``None`` where NovelAI resolves ``true``."""
    body = TRY + (
        "await api.v1.document.appendParagraph('a')\n"
        "first = await api.v1.document.history.currentNodeId()\n"
        "await api.v1.document.appendParagraph('b')\n"
        "await ta('int', lambda: api.v1.document.history.nodeState(5))\n"
        "await ta('unknown', lambda: api.v1.document.history.nodeState('zz'))\n"
        "await ta('jump', lambda: api.v1.document.history.jump(first))\n"
        "state = await api.v1.document.history.nodeState()\n"
        "api.v1.log(state.id == first, state.current)\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            "int ValueError document.history.nodeState nodeId: must be a string, got int",
            "unknown -> None",
            "jump -> True",
            "True True",
        ], env.lines(level="error")
