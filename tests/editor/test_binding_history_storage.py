"""``storyStorage`` and ``historyStorage`` follow the editor: the open story, and the current
history node with NovelAI's semantics (values carry forward to descendants, undo reverts them).
Real workers, the simulator, real story and storage files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline_helpers import EditorEnv, editor_env

from nai_script.host.history_storage import history_storage
from nai_script.host.script import LoadedScript
from nai_script.host.storage import StorageDB

# The test drives the script through one hook: ``[op, namespace, key, value]`` -> the result.
DRIVER = (
    "async def drive(op, namespace, key, value):\n"
    "    store = getattr(api.v1, namespace)\n"
    "    if op == 'set':\n"
    "        return await store.set(key, value)\n"
    "    if op == 'remove':\n"
    "        return await store.remove(key)\n"
    "    if op == 'list':\n"
    "        return await store.list()\n"
    "    if op == 'setIfAbsent':\n"
    "        return await store.setIfAbsent(key, value)\n"
    "    return await store.get(key)\n"
    "api.v1.hooks.register('onScriptsLoaded', drive)\n"
)


async def _drive(
    e: EditorEnv, script: LoadedScript, op: str, key: str = "", value: Any = None,
    namespace: str = "historyStorage",
) -> Any:  # fmt: skip
    handle = script.hooks["onScriptsLoaded"]
    return await e.env.host.call_script(script, handle, [op, namespace, key, value], what=op)


async def _node(e: EditorEnv) -> str:
    return (await e.editor.node_state()).node.id


async def test_history_values_carry_forward_and_revert_on_undo(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        script = await e.env.run(DRIVER)
        await e.editor.update_settings({"params": {"max_tokens": 6}})
        await e.editor.edit(lambda doc: doc.append("It begins.", "user"))
        node_a = await _node(e)
        await _drive(e, script, "set", "mood", "tense")
        assert await _drive(e, script, "get", "mood") == "tense"

        result = await e.editor.send(None)  # generates a child of A
        assert result.error is None
        node_b = await _node(e)
        assert node_b != node_a
        assert await _drive(e, script, "get", "mood") == "tense"
        assert await _drive(e, script, "list") == ["mood"]

        await e.editor.undo()  # back to A: still set there
        assert await _node(e) == node_a
        assert await _drive(e, script, "get", "mood") == "tense"
        await e.editor.undo()  # A's parent: the value was set after it
        assert await _drive(e, script, "get", "mood") is None
        assert await _drive(e, script, "list") == []
        assert await _drive(e, script, "setIfAbsent", "mood", "calm") is True

        await e.editor.redo()  # back to A: its own value again
        assert await _node(e) == node_a
        assert await _drive(e, script, "get", "mood") == "tense"


async def test_remove_hides_an_inherited_value_until_undo(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        script = await e.env.run(DRIVER)
        await e.editor.edit(lambda doc: doc.append("One.", "user"))
        await _drive(e, script, "set", "flag", [1, 2])
        await e.editor.edit(lambda doc: doc.append(" Two.", "user"))
        await _drive(e, script, "remove", "flag")
        assert await _drive(e, script, "get", "flag") is None
        assert await _drive(e, script, "list") == []
        await e.editor.edit(lambda doc: doc.append(" Three.", "user"))
        assert await _drive(e, script, "get", "flag") is None  # the removal carries forward
        await _drive(e, script, "set", "flag", "again")
        assert await _drive(e, script, "get", "flag") == "again"
        await e.editor.undo()
        await e.editor.undo()  # before the removal
        assert await _drive(e, script, "get", "flag") == [1, 2]
        assert await _drive(e, script, "list") == ["flag"]


async def test_a_retry_does_not_see_values_set_on_the_generation_it_replaces(
    tmp_path: Path,
) -> None:
    async with editor_env(tmp_path) as e:
        script = await e.env.run(DRIVER)
        await e.editor.update_settings({"params": {"max_tokens": 6}})
        await e.editor.edit(lambda doc: doc.append("Start.", "user"))
        await _drive(e, script, "set", "base", 1)
        await e.editor.send(None)
        first = await _node(e)
        await _drive(e, script, "set", "seen", "first generation")
        await e.editor.retry()
        assert await _node(e) != first
        assert await _drive(e, script, "get", "seen") is None
        assert await _drive(e, script, "get", "base") == 1
        await e.editor.jump(first)
        assert await _drive(e, script, "get", "seen") == "first generation"


async def test_story_storage_follows_the_open_story(tmp_path: Path) -> None:
    async with editor_env(tmp_path) as e:
        script = await e.env.run(DRIVER)
        first = e.editor.story_id
        await _drive(e, script, "set", "name", "Ann", namespace="storyStorage")
        await _drive(e, script, "set", "h", "first story", namespace="historyStorage")
        second = await e.editor.create_story("Another")
        assert e.editor.story_id == second != first
        assert await _drive(e, script, "get", "name", namespace="storyStorage") is None
        assert await _drive(e, script, "get", "h") is None
        await _drive(e, script, "set", "name", "Bo", namespace="storyStorage")
        await e.editor.open_story(first)
        assert await _drive(e, script, "get", "name", namespace="storyStorage") == "Ann"
        assert await _drive(e, script, "get", "h") == "first story"


def test_history_slice_tombstones_and_listing(tmp_path: Path) -> None:
    """The overlay on its own: a chain the test moves along by hand."""
    db = StorageDB(tmp_path / "storage.sqlite3")
    chain = ["root"]
    try:
        store = history_storage(db, "s", lambda: list(chain))
        store.set("a", 1)
        store.set("b", "")  # an empty string value is a value, not a tombstone
        chain.insert(0, "n1")
        assert (store.get("a"), store.get("b"), store.list()) == (1, "", ["a", "b"])
        store.remove("a")  # inherited: a tombstone on n1
        store.remove("zzz")  # nothing anywhere: nothing written
        assert (store.has("a"), store.list()) == (False, ["b"])
        assert db.keys(*_history_row("s", "n1")) == ["a"]
        store.set("c", True)
        store.remove("c")  # set here only: the row goes
        assert db.keys(*_history_row("s", "n1")) == ["a"]
        chain.pop(0)  # "undo" to root
        assert (store.get("a"), store.list()) == (1, ["a", "b"])
        other = history_storage(db, "other-script", lambda: ["root"])
        assert other.list() == []
    finally:
        db.close()


def _history_row(script_id: str, node: str) -> tuple[Any, str, str]:
    from nai_script.host.storage import Scope

    return (Scope.HISTORY, script_id, node)
