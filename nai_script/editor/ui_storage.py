"""``storageKey`` binding: an input's value lives in the script's own storage.

NovelAI's key prefixes pick the scope: ``story:`` (storyStorage), ``history:`` (historyStorage),
otherwise the script's ``storage``. Reads fill the value the page shows; writes happen when the
person changes the input, before the script's ``onChange`` runs (so the callback can read it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nai_script.editor.ui_tree import StorageReader
from nai_script.host.storage import StorageError

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost
    from nai_script.host.script import LoadedScript


class BoundValueError(ValueError):
    """The value could not be stored (not JSON, over the storage cap)."""


def storage_slot(key: str) -> tuple[str, str]:
    """``(namespace, key)`` for a ``storageKey``."""
    if key.startswith("story:"):
        return "storyStorage", key.removeprefix("story:")
    if key.startswith("history:"):
        return "historyStorage", key.removeprefix("history:")
    return "storage", key


def storage_reader(host: ScriptHost, script: LoadedScript) -> StorageReader:
    async def read(key: str) -> Any:
        namespace, name = storage_slot(key)
        store = host.storage_for(script, namespace)
        return await host.storage_db.run(lambda: store.get(name))

    return read


async def write_bound_value(host: ScriptHost, script: LoadedScript, key: str, value: Any) -> None:
    namespace, name = storage_slot(key)
    store = host.storage_for(script, namespace)
    try:
        await host.storage_db.run(lambda: store.set(name, value))
    except StorageError as error:
        raise BoundValueError(f"cannot store {key!r}: {error}") from None
