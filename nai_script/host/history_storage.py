"""``historyStorage`` as NovelAI means it: values belong to a point in the story's history.

A value set while the story is at history node N is stored on N, and a read at any node
looks at that node, then its parent, and so on up to the root (``StoryStore.ancestors``): a
value is seen by everything generated or edited after it, undo back past N makes it
disappear, redo brings it back, and a retry (a sibling of N) does not see it. ``remove`` on a
node whose ancestors still hold the key writes a tombstone there, so the removal reverts on
undo the same way. Rows live in the storage file under ``Scope.HISTORY`` with the node id as
owner; a tombstone is the empty string, which no JSON value encodes to.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

from nai_script.host.storage import HISTORY_STORAGE_CAP, Cap, Scope, ScriptStorage, StorageDB

TOMBSTONE = ""
#: The current node first, then its ancestors up to the root; asked on every call, so the
#: storage follows the editor's undo/redo/jump as they happen.
Ancestry = Callable[[], list[str]]


class _HistorySlice:
    """The rows of one script's ``historyStorage`` seen from the current history node."""

    def __init__(self, db: StorageDB, script_id: str, ancestry: Ancestry, cap: Cap) -> None:
        self._db = db
        self._script_id = script_id
        self._ancestry = ancestry
        self._cap = cap

    def _lookup(self, chain: list[str], key: str) -> str | None:
        """The nearest value for ``key`` along ``chain``; None if unset or removed."""
        for node in chain:
            raw = self._db.get(Scope.HISTORY, self._script_id, node, key)
            if raw is not None:
                return None if raw == TOMBSTONE else raw
        return None

    def get_raw(self, key: str) -> str | None:
        return self._lookup(self._ancestry(), key)

    def put_raw(self, key: str, value: str) -> None:
        node = self._ancestry()[0]
        self._db.put(Scope.HISTORY, self._script_id, node, key, value, self._cap)

    def delete_raw(self, key: str) -> None:
        chain = self._ancestry()
        if self._lookup(chain[1:], key) is not None:  # inherited: hide it from here on
            # A tombstone is never refused: a full storage must still be able to shrink.
            self._db.put(Scope.HISTORY, self._script_id, chain[0], key, TOMBSTONE, None)
        else:
            self._db.delete(Scope.HISTORY, self._script_id, chain[0], key)

    def atomic(self) -> AbstractContextManager[None]:
        return self._db.transaction()

    def keys(self) -> list[str]:
        seen: dict[str, bool] = {}
        for node in self._ancestry():
            for key in self._db.keys(Scope.HISTORY, self._script_id, node):
                if key not in seen:  # the nearest node decides: live value or tombstone
                    seen[key] = self._db.get(Scope.HISTORY, self._script_id, node, key) != TOMBSTONE
        return sorted(key for key, live in seen.items() if live)


def history_storage(
    db: StorageDB, script_id: str, ancestry: Ancestry, cap: Cap = HISTORY_STORAGE_CAP
) -> ScriptStorage:
    """``historyStorage`` for one script; ``ancestry`` runs on the storage file's thread."""
    return ScriptStorage(_HistorySlice(db, script_id, ancestry, cap))
