"""Per-script image budget for the ``api.v1.image`` extension (NovelAI has no such call).

Works like the token buckets (docs/limits.md): each generation takes one entry of N images
with its spend time, and an entry returns only once its window has passed **and** the user
interacted strictly after the spend. The token buckets' schema has only the output and input
kinds, so this lives in its own small SQLite file next to them; the last interaction is read
from the limits (``Limits.last_interaction``, one source of truth for "the user interacted").

Every check-and-charge is one ``BEGIN IMMEDIATE`` transaction, so concurrent calls (or two
processes on the file) never take more than the capacity. Writes run on a worker thread so
the event loop never waits for an fsync. Each entry records its owner (``limits.owners``): on
opening, the reservations left in flight by an owner that is gone are charged in full (a crash
never refills), while those of another live process on the same data folder are left to it.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from nai_script.limits import Clock, SystemClock
from nai_script.limits.buckets import is_returned
from nai_script.limits.owners import OwnerLock, live_owners
from nai_script.limits.sql import add_owner_column, charge_orphans
from nai_script.limits.store import connect, immediate

T = TypeVar("T")
LastInteraction = Callable[[str], float | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS image_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    script_id TEXT NOT NULL,
    images INTEGER NOT NULL,
    spent_at REAL NOT NULL,
    settled INTEGER NOT NULL,
    owner TEXT
);
CREATE INDEX IF NOT EXISTS image_entries_script ON image_entries (script_id);
"""


class ImageBudgetConfig(BaseModel):
    """Defaults: 8 images per 300 s per script (a few portraits per scene, not a batch job)."""

    model_config = ConfigDict(frozen=True)

    capacity: int = Field(default=8, gt=0, description="Images per script per window.")
    window_s: float = Field(default=300.0, gt=0)
    synchronous: Literal["FULL", "NORMAL"] = "FULL"


class ImageEntry(BaseModel):
    """Images taken by one generation (``settled`` is False while it is in flight)."""

    model_config = ConfigDict(frozen=True)

    id: int
    images: int = Field(ge=0)
    spent_at: float
    settled: bool


class ImageBudgetExceeded(Exception):
    """A reservation was refused; nothing was charged."""

    def __init__(self, *, script_id: str, needed: int, available: int, capacity: int) -> None:
        self.script_id = script_id
        self.needed = needed
        self.available = available
        self.capacity = capacity
        super().__init__(
            f"image budget of script {script_id!r}: needs {needed} images, {available} "
            f"available (capacity {capacity})"
        )


def held_images(
    entries: Iterable[ImageEntry],
    config: ImageBudgetConfig,
    now: float,
    last_interaction: float | None,
) -> int:
    """Images still counted: in flight, inside the window, or not followed by an interaction."""
    return sum(e.images for e in entries if not is_returned(e, config, now, last_interaction))


class ImageReservation:
    """Images held before sending: ``settle(used)`` after, ``release()`` to refund them all."""

    def __init__(self, budget: ImageBudget, entry_id: int, images: int) -> None:
        self._budget = budget
        self.entry_id = entry_id
        self.images = images
        self.closed = False

    async def settle(self, used: int | None = None) -> None:
        """Charge ``used`` images (default: all reserved) at the reservation's spend time."""
        if self.closed:
            return
        self.closed = True
        await self._budget._settle(self.entry_id, self.images if used is None else used)

    async def release(self) -> None:
        """Nothing was generated: the reservation costs nothing."""
        if self.closed:
            return
        self.closed = True
        await self._budget._settle(self.entry_id, 0)


class ImageBudget:
    """One SQLite file of image entries, keyed by script id (survives reloads and restarts)."""

    def __init__(
        self,
        path: str | Path,
        config: ImageBudgetConfig | None = None,
        clock: Clock | None = None,
        last_interaction: LastInteraction | None = None,
    ) -> None:
        self.config = config or ImageBudgetConfig()
        self.clock: Clock = clock or SystemClock()
        self._last_interaction = last_interaction or (lambda _script_id: None)
        self._lock = threading.Lock()
        self._db = connect(path, self.config.synchronous)
        self._db.executescript(_SCHEMA)
        db_path = Path(path)
        self._owner = OwnerLock(db_path)

        def upgrade_and_recover(db: sqlite3.Connection) -> None:
            add_owner_column(db, "image_entries")
            charge_orphans(db, "image_entries", lambda: live_owners(db_path))

        self._transaction(upgrade_and_recover)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._owner.close()

    def _transaction(self, body: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            return immediate(self._db, body)

    @staticmethod
    def _entries(db: sqlite3.Connection, script_id: str) -> list[ImageEntry]:
        rows = db.execute(
            "SELECT id, images, spent_at, settled FROM image_entries WHERE script_id=?",
            (script_id,),
        ).fetchall()
        return [ImageEntry(id=r[0], images=r[1], spent_at=r[2], settled=bool(r[3])) for r in rows]

    def entries(self, script_id: str) -> list[ImageEntry]:
        with self._lock:
            return self._entries(self._db, script_id)

    def available(self, script_id: str) -> int:
        """Images that can be generated now."""
        held = held_images(
            self.entries(script_id),
            self.config,
            self.clock.now(),
            self._last_interaction(script_id),
        )
        return max(0, self.config.capacity - held)

    def ms_until_available(self, script_id: str, images: int) -> int:
        """Milliseconds until ``images`` fit, ignoring the interaction condition (0 = now).

        As the token buckets count (``limits.buckets.ms_until_available``): held entries come
        back oldest first, and one still in flight counts at its reservation.
        """
        if not 0 <= images <= self.config.capacity:
            raise ValueError(f"images: must be 0..{self.config.capacity}, got {images}")
        now, config = self.clock.now(), self.config
        last = self._last_interaction(script_id)
        held = [e for e in self.entries(script_id) if not is_returned(e, config, now, last)]
        free = config.capacity - sum(e.images for e in held)
        due = now
        for entry in sorted(held, key=lambda e: (e.spent_at, e.id)):
            if free >= images:
                break
            free += entry.images
            due = entry.spent_at + config.window_s
        return max(0, math.ceil((due - now) * 1000))

    async def reserve(self, script_id: str, images: int) -> ImageReservation:
        """Hold ``images`` or raise :class:`ImageBudgetExceeded` (then nothing is written)."""
        if images <= 0:
            raise ValueError(f"images: must be > 0, got {images}")
        now = self.clock.now()
        last = self._last_interaction(script_id)
        config, capacity = self.config, self.config.capacity

        def check_and_take(db: sqlite3.Connection) -> int:
            held = held_images(self._entries(db, script_id), config, now, last)
            if held + images > capacity:
                raise ImageBudgetExceeded(
                    script_id=script_id,
                    needed=images,
                    available=max(0, capacity - held),
                    capacity=capacity,
                )
            cursor = db.execute(
                "INSERT INTO image_entries (script_id, images, spent_at, settled, owner) "
                "VALUES (?, ?, ?, 0, ?)",
                (script_id, images, now, self._owner.id),
            )
            return int(cursor.lastrowid or 0)

        commit = asyncio.ensure_future(asyncio.to_thread(self._transaction, check_and_take))
        try:
            entry_id = await asyncio.shield(commit)
        except asyncio.CancelledError:
            # Cancelled while the reserve committed: refund it, so nothing stays in flight.
            if not commit.done():
                commit.add_done_callback(self._refund_late)
            elif not commit.cancelled() and commit.exception() is None:
                await asyncio.shield(self._settle(commit.result(), 0))
            raise
        return ImageReservation(self, entry_id, images)

    def _refund_late(self, commit: asyncio.Future[int]) -> None:
        if not commit.cancelled() and commit.exception() is None:
            # Rare path (cancelled mid-commit): one blocking delete beats a stray task.
            entry_id = commit.result()
            self._transaction(
                lambda db: db.execute(
                    "DELETE FROM image_entries WHERE id=? AND settled=0", (entry_id,)
                )
            )

    async def _settle(self, entry_id: int, used: int) -> None:
        # Only while in flight: an entry another process's recovery has charged in full stays
        # charged (it took this one for dead; a settle must never refund after a recovery).
        def settle(db: sqlite3.Connection) -> None:
            if used <= 0:
                db.execute("DELETE FROM image_entries WHERE id=? AND settled=0", (entry_id,))
            else:
                db.execute(
                    "UPDATE image_entries SET images=?, settled=1 WHERE id=? AND settled=0",
                    (used, entry_id),
                )

        # Shielded: a settle that was started always lands, even if the caller is cancelled.
        await asyncio.shield(asyncio.to_thread(self._transaction, settle))
