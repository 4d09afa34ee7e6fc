"""Lorebook rows of the stories file: categories and entries, kept in creation order."""

from __future__ import annotations

import sqlite3
from typing import TypeVar

from nai_script.editor.models import LorebookCategory, LorebookEntry
from nai_script.editor.store_file import StoryError, StoryFile

M = TypeVar("M", LorebookCategory, LorebookEntry)


class LorebookTables(StoryFile):
    """Lorebook CRUD; replacing an item keeps its place in the order."""

    def categories(self, story_id: str) -> list[LorebookCategory]:
        return self._items("lorebook_categories", LorebookCategory, story_id)

    def entries(self, story_id: str) -> list[LorebookEntry]:
        return self._items("lorebook_entries", LorebookEntry, story_id)

    def _items(self, table: str, model: type[M], story_id: str) -> list[M]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT body FROM {table} WHERE story_id=? ORDER BY rowid", (story_id,)
            ).fetchall()
        return [model.model_validate_json(r[0]) for r in rows]

    def put_category(self, story_id: str, category: LorebookCategory) -> LorebookCategory:
        """Create or replace a category (keeps its place in the order when replaced)."""
        with self._write() as conn:
            self._require_story(conn, story_id)
            self._upsert(conn, "lorebook_categories", story_id, category.id, category)
        return category

    def put_entry(self, story_id: str, entry: LorebookEntry) -> LorebookEntry:
        """Create or replace an entry; its category, when set, must exist."""
        with self._write() as conn:
            self._require_story(conn, story_id)
            if (
                entry.category is not None
                and not conn.execute(
                    "SELECT 1 FROM lorebook_categories WHERE story_id=? AND id=?",
                    (story_id, entry.category),
                ).fetchone()
            ):
                raise StoryError(f"lorebook entry {entry.id}: no category {entry.category!r}")
            self._upsert(conn, "lorebook_entries", story_id, entry.id, entry)
        return entry

    def delete_entry(self, story_id: str, entry_id: str) -> None:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM lorebook_entries WHERE story_id=? AND id=?", (story_id, entry_id)
            )
            if cur.rowcount == 0:
                raise StoryError(f"no lorebook entry {entry_id!r} in story {story_id!r}")

    def delete_category(self, story_id: str, category_id: str) -> None:
        """Delete a category; its entries stay, uncategorized."""
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM lorebook_categories WHERE story_id=? AND id=?",
                (story_id, category_id),
            )
            if cur.rowcount == 0:
                raise StoryError(f"no lorebook category {category_id!r} in story {story_id!r}")
            rows = conn.execute(
                "SELECT id, body FROM lorebook_entries WHERE story_id=?", (story_id,)
            ).fetchall()
            for entry_id, body in rows:
                entry = LorebookEntry.model_validate_json(body)
                if entry.category == category_id:
                    entry = entry.model_copy(update={"category": None})
                    self._upsert(conn, "lorebook_entries", story_id, entry_id, entry)

    def _upsert(
        self,
        conn: sqlite3.Connection,
        table: str,
        story_id: str,
        item_id: str,
        item: LorebookCategory | LorebookEntry,
    ) -> None:
        conn.execute(
            f"INSERT INTO {table} VALUES (?,?,?) ON CONFLICT(story_id, id) "
            "DO UPDATE SET body=excluded.body",
            (story_id, item_id, item.model_dump_json()),
        )
