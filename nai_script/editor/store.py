"""The stories file: documents, history trees, settings and lorebooks in one SQLite file.

WAL with ``synchronous=FULL``: a change is fsynced before the call that made it returns, so a
kill -9 (or a power cut) loses nothing that was acknowledged. Every mutation reads what it
needs and writes in one ``BEGIN IMMEDIATE`` transaction, so two writers (two tasks, or two
processes on one file) never interleave. The methods block; async callers use :meth:`run`,
which runs calls on the file's one thread in submission order, so the event loop never waits
for an fsync.

The current document is stored materialized (one row per section plus the section order) so
opening a story is one read; each history node stores only its diff (see ``diff.py``).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from nai_script.editor.diff import apply_changes, compacted, inverse
from nai_script.editor.models import (
    HistoryKind,
    HistoryNode,
    Section,
    SectionChange,
    StoryInfo,
    StorySettings,
    new_id,
)
from nai_script.editor.store_file import PARSE_CACHE_SIZE, StoryError, StoryFile
from nai_script.editor.store_lorebook import LorebookTables

__all__ = ["ChangeBuilder", "StoryError", "StoryFile", "StoryStore"]

ChangeBuilder = Callable[[list[Section]], list[SectionChange]]
_CHANGES = TypeAdapter(list[SectionChange])


class StoryStore(LorebookTables):
    """All stories of one ``--data`` folder (the lorebook half lives in ``store_lorebook``)."""

    # ----------------------------------------------------------------------------- stories

    def create_story(
        self, settings: StorySettings | None = None, *, story_id: str | None = None
    ) -> StoryInfo:
        """A new empty story with its root history node."""
        settings = settings or StorySettings()
        sid, root, now = story_id or new_id(), new_id(), self.clock()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM stories WHERE id=?", (sid,)).fetchone():
                raise ValueError(f"story {sid} already exists")
            conn.execute(
                "INSERT INTO stories VALUES (?,?,?,?,?,?)",
                (sid, now, now, root, "[]", settings.model_dump_json()),
            )
            conn.execute(
                "INSERT INTO history_nodes VALUES (?,?,?,?,?,?,?)",
                (sid, root, None, "root", now, "[]", None),
            )
        return self.story(sid)

    def list_stories(self) -> list[StoryInfo]:
        """Every story, most recently changed first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id FROM stories ORDER BY updated DESC, rowid DESC"
            ).fetchall()
        return [self.story(str(r[0])) for r in rows]

    def last_opened(self) -> str | None:
        """The story the editor had open last, if it still exists."""
        with self._lock:
            row = self._conn.execute(
                "SELECT s.id FROM editor_state e JOIN stories s ON s.id = e.value"
                " WHERE e.key = 'last_opened'"
            ).fetchone()
        return None if row is None else str(row[0])

    def set_last_opened(self, story_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO editor_state (key, value) VALUES ('last_opened', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (story_id,),
            )

    def story(self, story_id: str) -> StoryInfo:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, created, updated, current_node, settings FROM stories WHERE id=?",
                (story_id,),
            ).fetchone()
        if row is None:
            raise StoryError(f"no story {story_id!r}")
        title = StorySettings.model_validate_json(row[4]).title
        return StoryInfo(id=row[0], title=title, created=row[1], updated=row[2], currentNode=row[3])

    def delete_story(self, story_id: str) -> list[str]:
        """Delete a story with its document, history and lorebook; returns the ids of the
        history nodes it had (the scripts' ``historyStorage`` rows are keyed by them)."""
        with self._write() as conn:
            self._require_story(conn, story_id)
            nodes = [
                str(row[0])
                for row in conn.execute(
                    "SELECT id FROM history_nodes WHERE story_id=?", (story_id,)
                )
            ]
            for table in (
                "sections",
                "history_nodes",
                "lorebook_categories",
                "lorebook_entries",
            ):
                conn.execute(f"DELETE FROM {table} WHERE story_id=?", (story_id,))
            conn.execute("DELETE FROM stories WHERE id=?", (story_id,))
        return nodes

    # --------------------------------------------------------------------------- document

    def sections(self, story_id: str) -> list[Section]:
        """The story's current document, in order."""
        with self._lock:
            return self._load_sections(self._conn, story_id)

    def commit(
        self,
        story_id: str,
        kind: HistoryKind,
        build: ChangeBuilder,
        *,
        amend: str | None = None,
    ) -> HistoryNode | None:
        """Compute changes from the current document with ``build`` and commit them as a new
        child of the current node, which becomes current. ``build`` runs inside the write
        transaction, so it sees the latest document; no changes, no node (returns None).

        With ``amend`` (a node id), the changes extend that node instead, which must still be
        current: a streamed generation stays one node while every chunk is durable. A
        StoryError says so if the user moved away (undo, jump) meanwhile."""
        with self._write() as conn:
            current = self._require_story(conn, story_id)
            if amend is not None and amend != current:
                raise StoryError(f"history node {amend!r} is no longer current (now {current!r})")
            before = self._load_sections(conn, story_id)
            changes = build(before)
            if not changes:
                return None if amend is None else self._load_node(conn, story_id, amend)
            after = apply_changes(before, changes)
            if amend is not None:
                node = self._load_node(conn, story_id, amend)
                if node.children:
                    # Its children's diffs were made against its state: it is frozen now.
                    raise StoryError(f"history node {amend!r} has children; it cannot grow")
                node = node.model_copy(update={"changes": compacted(node.changes + changes)})
                conn.execute(
                    "UPDATE history_nodes SET changes=? WHERE story_id=? AND id=?",
                    (_dump(node.changes), story_id, amend),
                )
                self._write_document(conn, story_id, before, after, amend)
                return node
            node = HistoryNode(parent=current, kind=kind, changes=changes, created=self.clock())
            conn.execute(
                "INSERT INTO history_nodes VALUES (?,?,?,?,?,?,?)",
                (story_id, node.id, current, kind, node.created, _dump(changes), None),
            )
            conn.execute(
                "UPDATE history_nodes SET preferred_child=? WHERE story_id=? AND id=?",
                (node.id, story_id, current),
            )
            self._write_document(conn, story_id, before, after, node.id)
            return node

    # ---------------------------------------------------------------------------- history

    def current_node(self, story_id: str) -> str:
        with self._lock:
            return self._require_story(self._conn, story_id)

    def node(self, story_id: str, node_id: str) -> HistoryNode:
        with self._lock:
            return self._load_node(self._conn, story_id, node_id)

    def preferred_child(self, story_id: str, node_id: str) -> str | None:
        """The child redo goes to: the one made or visited last."""
        with self._lock:
            row = self._conn.execute(
                "SELECT preferred_child FROM history_nodes WHERE story_id=? AND id=?",
                (story_id, node_id),
            ).fetchone()
        if row is None:
            raise StoryError(f"story {story_id!r} has no history node {node_id!r}")
        return None if row[0] is None else str(row[0])

    def ancestors(self, story_id: str, node_id: str) -> list[str]:
        """``node_id`` then its ancestors up to the root: where a ``historyStorage`` lookup
        falls back to, so values set at a node carry forward and undo reverts them."""
        with self._lock:
            return self._ancestors(self._conn, story_id, node_id)

    def node_sections(self, story_id: str, node_id: str) -> list[Section]:
        """The document as it is at ``node_id``, computed without moving there."""
        with self._lock:
            current = self._require_story(self._conn, story_id)
            doc = self._load_sections(self._conn, story_id)
            return apply_changes(doc, self._path_changes(self._conn, story_id, current, node_id))

    def move_to(self, story_id: str, node_id: str) -> HistoryNode:
        """Make ``node_id`` current (undo, redo, jump): the document becomes its state, and
        every node on the way down becomes its parent's preferred child (what redo follows)."""
        with self._write() as conn:
            current = self._require_story(conn, story_id)
            target = self._load_node(conn, story_id, node_id)
            before = self._load_sections(conn, story_id)
            after = apply_changes(before, self._path_changes(conn, story_id, current, node_id))
            child = node_id
            for ancestor in self._ancestors(conn, story_id, node_id)[1:]:
                conn.execute(
                    "UPDATE history_nodes SET preferred_child=? WHERE story_id=? AND id=?",
                    (child, story_id, ancestor),
                )
                child = ancestor
            self._write_document(conn, story_id, before, after, node_id)
            return target

    # --------------------------------------------------------------------------- settings

    def settings(self, story_id: str) -> StorySettings:
        with self._lock:
            row = self._conn.execute(
                "SELECT settings FROM stories WHERE id=?", (story_id,)
            ).fetchone()
        if row is None:
            raise StoryError(f"no story {story_id!r}")
        return StorySettings.model_validate_json(row[0])

    def update_settings(self, story_id: str, patch: dict[str, Any]) -> StorySettings:
        """Merge ``patch`` (``params`` merged field by field) and validate the result; a bad
        value raises pydantic's ValidationError naming the field, and nothing is written."""
        with self._write() as conn:
            row = conn.execute("SELECT settings FROM stories WHERE id=?", (story_id,)).fetchone()
            if row is None:
                raise StoryError(f"no story {story_id!r}")
            merged = json.loads(row[0])
            for key, value in patch.items():
                if key == "params" and isinstance(value, dict):
                    merged["params"] = {**merged.get("params", {}), **value}
                else:
                    merged[key] = value
            settings = StorySettings.model_validate(merged)
            conn.execute(
                "UPDATE stories SET settings=?, updated=? WHERE id=?",
                (settings.model_dump_json(), self.clock(), story_id),
            )
            return settings

    def _load_sections(self, conn: sqlite3.Connection, story_id: str) -> list[Section]:
        row = conn.execute("SELECT section_order FROM stories WHERE id=?", (story_id,)).fetchone()
        if row is None:
            raise StoryError(f"no story {story_id!r}")
        bodies = dict(
            conn.execute("SELECT id, body FROM sections WHERE story_id=?", (story_id,)).fetchall()
        )
        return [self._parse_section(bodies[sid]) for sid in json.loads(row[0])]

    def _parse_section(self, body: str) -> Section:
        """Parse a stored section, reusing the last parse of the same JSON (sections are
        frozen): an edit re-reads the whole document, but only changed sections re-parse."""
        section = self._parsed.get(body)
        if section is None:
            if len(self._parsed) >= PARSE_CACHE_SIZE:
                self._parsed.clear()
            section = self._parsed[body] = Section.model_validate_json(body)
        return section

    def _write_document(
        self,
        conn: sqlite3.Connection,
        story_id: str,
        before: list[Section],
        after: list[Section],
        current: str,
    ) -> None:
        """Write only the sections that changed, then the order and the current node."""
        old = {s.id: s for s in before}
        new = {s.id: s for s in after}
        for sid in old.keys() - new.keys():
            conn.execute("DELETE FROM sections WHERE story_id=? AND id=?", (story_id, sid))
        for sid, section in new.items():
            previous = old.get(sid)
            if previous is not section and previous != section:
                conn.execute(
                    "INSERT INTO sections VALUES (?,?,?) ON CONFLICT(story_id, id) "
                    "DO UPDATE SET body=excluded.body",
                    (story_id, sid, section.model_dump_json()),
                )
        conn.execute(
            "UPDATE stories SET section_order=?, current_node=?, updated=? WHERE id=?",
            (json.dumps([s.id for s in after]), current, self.clock(), story_id),
        )

    def _load_node(self, conn: sqlite3.Connection, story_id: str, node_id: str) -> HistoryNode:
        row = conn.execute(
            "SELECT parent, kind, created, changes FROM history_nodes WHERE story_id=? AND id=?",
            (story_id, node_id),
        ).fetchone()
        if row is None:
            raise StoryError(f"story {story_id!r} has no history node {node_id!r}")
        children = conn.execute(
            "SELECT id FROM history_nodes WHERE story_id=? AND parent=? ORDER BY rowid",
            (story_id, node_id),
        ).fetchall()
        return HistoryNode(
            id=node_id,
            parent=row[0],
            kind=row[1],
            created=row[2],
            changes=_CHANGES.validate_json(row[3]),
            children=[str(c[0]) for c in children],
        )

    def _ancestors(self, conn: sqlite3.Connection, story_id: str, node_id: str) -> list[str]:
        """``node_id`` and its ancestors up to the root, nearest first."""
        chain: list[str] = []
        at: str | None = node_id
        while at is not None:
            row = conn.execute(
                "SELECT parent FROM history_nodes WHERE story_id=? AND id=?", (story_id, at)
            ).fetchone()
            if row is None:
                raise StoryError(f"story {story_id!r} has no history node {at!r}")
            chain.append(at)
            at = row[0]
        return chain

    def _path_changes(
        self, conn: sqlite3.Connection, story_id: str, start: str, goal: str
    ) -> list[SectionChange]:
        """The changes that take the document from node ``start`` to node ``goal``: undo up to
        their common ancestor, then redo down."""
        up, down = self._ancestors(conn, story_id, start), self._ancestors(conn, story_id, goal)
        common = next(n for n in up if n in set(down))
        changes: list[SectionChange] = []
        for node_id in up[: up.index(common)]:
            changes += inverse(self._load_node(conn, story_id, node_id).changes)
        for node_id in reversed(down[: down.index(common)]):
            changes += self._load_node(conn, story_id, node_id).changes
        return changes


def _dump(changes: list[SectionChange]) -> str:
    return json.dumps([c.model_dump(mode="json") for c in changes])
