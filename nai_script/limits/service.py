"""``Limits``: the per-script token buckets and prefix cache the host enforces.

Everything is keyed by script id and lives in one SQLite file, so a reload or a host restart
never refills a bucket. Queries are plain calls (a read on the caller's thread); anything that
changes state is awaited until it is committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nai_script.limits import buckets, editor_calls
from nai_script.limits.buckets import BucketKind, BucketRule, BudgetExceeded
from nai_script.limits.budget import GenerationBudget, Reservation
from nai_script.limits.clock import Clock, SteadyClock, SystemClock
from nai_script.limits.diagnostics import (
    GenerationOutcome,
    GenerationRecord,
    ScriptDiagnostics,
    bucket_diagnostics,
)
from nai_script.limits.prefix_cache import ScriptPrefixCache, block_keys, count_cached_tokens
from nai_script.limits.sql import ForgetReturned
from nai_script.limits.store import LimitsStore, Refusal


class LimitsConfig(BaseModel):
    """Capacities, windows and cache bounds (defaults and reasons in docs/limits.md)."""

    model_config = ConfigDict(frozen=True)

    output_capacity: int = Field(default=2048, gt=0)
    output_window_s: float = Field(default=240.0, gt=0)
    input_capacity: int = Field(
        default=2 * 28_672,
        gt=0,
        description="Fallback only: the host passes 2 x context_size(model, tier) per call.",
    )
    input_window_s: float = Field(default=360.0, gt=0)
    cache_max_blocks: int = Field(default=8192, gt=0, description="Per script.")
    cache_expiry_s: float = Field(default=3600.0, gt=0)
    recent_generations: int = Field(default=50, gt=0)
    poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often waits re-read the file (other processes)."
    )
    synchronous: Literal["FULL", "NORMAL"] = "FULL"
    busy_timeout_ms: int = Field(default=5000, ge=0)


#: How often a script's settles also forget its returned entries (seconds of the limits clock).
HOUSEKEEPING_S = 60.0


class Limits:
    """The host's one object for budgets, waits, the prefix cache and diagnostics."""

    def __init__(
        self,
        path: str | Path,
        config: LimitsConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or LimitsConfig()
        self._store = LimitsStore(
            path, synchronous=self.config.synchronous, busy_timeout_ms=self.config.busy_timeout_ms
        )
        #: Never earlier than it has been, nor than the file's latest record (``SteadyClock``);
        #: whatever compares its own times with ``last_interaction`` must use it too.
        self.clock: Clock = SteadyClock(clock or SystemClock(), self._store.latest_time())
        self._caches: dict[str, ScriptPrefixCache] = {}
        self._recent: dict[str, deque[GenerationRecord]] = {}
        self._changed = asyncio.Event()
        self._made_rules: dict[tuple[BucketKind, int | None], BucketRule] = {}
        # For housekeeping, which needs only the windows; when each script last had it.
        self._rules = (self.rule(BucketKind.OUTPUT), self.rule(BucketKind.INPUT))
        self._housekept: dict[str, float] = {}

    async def close(self) -> None:
        self._store.close()

    async def __aenter__(self) -> Limits:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self.close()

    # -- rules -----------------------------------------------------------------------------

    def rule(self, kind: BucketKind, input_capacity: int | None = None) -> BucketRule:
        """The bucket's rule (made once per kind and capacity: a reserve asks for two)."""
        key = (kind, None if kind is BucketKind.OUTPUT else input_capacity)
        made = self._made_rules.get(key)
        if made is None:
            made = self._made_rules[key] = self._make_rule(kind, input_capacity)
        return made

    def _make_rule(self, kind: BucketKind, input_capacity: int | None) -> BucketRule:
        if kind is BucketKind.OUTPUT:
            return BucketRule(
                kind=kind,
                capacity=self.config.output_capacity,
                window_s=self.config.output_window_s,
            )
        capacity = self.config.input_capacity if input_capacity is None else input_capacity
        if capacity <= 0:
            raise ValueError(f"input_capacity: must be > 0, got {capacity}")
        return BucketRule(kind=kind, capacity=capacity, window_s=self.config.input_window_s)

    def _notify(self) -> None:
        """Wake every waiter so it re-reads the state."""
        self._changed.set()
        self._changed = asyncio.Event()

    # -- interaction events ------------------------------------------------------------------

    async def record_interaction(self, script_id: str) -> None:
        """The user clicked or typed in UI this script created."""
        await self._store.write(LimitsStore.interaction_tx(script_id, self.clock.now()))
        self._notify()

    async def record_manual_generation(self) -> None:
        """The user generated from the editor: counts as an interaction for every script."""
        await self._store.write(LimitsStore.interaction_tx(None, self.clock.now()))
        self._notify()

    # -- the editor.generate allowance (``editor_calls``) ---------------------------------------

    async def take_editor_generate(self, script_id: str, limit: int) -> bool:
        """Count one ``editor.generate`` call if fewer than ``limit`` were made since the
        script's last interaction; False (counting nothing) if not."""
        return await self._store.write(editor_calls.take_tx(script_id, limit, self.clock.now()))

    async def give_back_editor_generate(self, script_id: str) -> None:
        await self._store.write(editor_calls.give_back_tx(script_id))

    def editor_generates_used(self, script_id: str) -> int:
        return self._store.editor_generates_used(script_id)

    # -- queries -----------------------------------------------------------------------------

    def last_interaction(self, script_id: str) -> float | None:
        """The latest interaction that returns this script's entries: its own UI events or a
        manual generation, whichever came last (None if neither happened)."""
        return self._store.last_interaction(script_id)

    def _allowed(self, script_id: str, rule: BucketRule) -> int:
        entries, last = self._store.read_state(script_id)
        return buckets.available(entries, rule, self.clock.now(), last)

    def allowed_output(self, script_id: str) -> int:
        """Output tokens available now (entries return only when both conditions hold)."""
        return self._allowed(script_id, self.rule(BucketKind.OUTPUT))

    def allowed_input(self, script_id: str, input_capacity: int | None = None) -> int:
        """Input tokens available now."""
        return self._allowed(script_id, self.rule(BucketKind.INPUT, input_capacity))

    def _ms_until(self, script_id: str, rule: BucketRule, needed: int) -> int:
        entries, last = self._store.read_state(script_id)
        return buckets.ms_until_available(entries, rule, self.clock.now(), last, needed)

    def time_until_allowed_output(self, script_id: str, needed: int) -> int:
        """Milliseconds until ``needed`` output tokens, ignoring the interaction condition."""
        return self._ms_until(script_id, self.rule(BucketKind.OUTPUT), needed)

    def time_until_allowed_input(
        self, script_id: str, needed: int, input_capacity: int | None = None
    ) -> int:
        """Milliseconds until ``needed`` input tokens, ignoring the interaction condition."""
        return self._ms_until(script_id, self.rule(BucketKind.INPUT, input_capacity), needed)

    async def _wait_for(self, script_id: str, rule: BucketRule, needed: int) -> None:
        buckets.check_needed(rule, needed)
        while True:
            changed = self._changed
            entries, last = self._store.read_state(script_id)
            now = self.clock.now()
            if buckets.available(entries, rule, now, last) >= needed:
                return
            delay = self.config.poll_interval_s
            due = buckets.next_return_at(entries, rule, now, last)
            if due is not None:
                delay = min(delay, due - now)
            sleeper = asyncio.ensure_future(self.clock.sleep(delay))
            waker = asyncio.ensure_future(changed.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def wait_for_allowed_output(self, script_id: str, needed: int) -> None:
        """Wait until time and interaction make ``needed`` output tokens available."""
        await self._wait_for(script_id, self.rule(BucketKind.OUTPUT), needed)

    async def wait_for_allowed_input(
        self, script_id: str, needed: int, input_capacity: int | None = None
    ) -> None:
        """Wait until time and interaction make ``needed`` input tokens available."""
        await self._wait_for(script_id, self.rule(BucketKind.INPUT, input_capacity), needed)

    # -- reserve / settle ----------------------------------------------------------------------

    async def reserve(
        self,
        script_id: str,
        *,
        output_tokens: int,
        input_tokens: int = 0,
        input_capacity: int | None = None,
    ) -> Reservation:
        """Take ``output_tokens`` (max_tokens) and ``input_tokens`` (uncached) at once, or
        raise ``BudgetExceeded`` having charged nothing."""
        requests = [
            (self.rule(BucketKind.OUTPUT), output_tokens),
            (self.rule(BucketKind.INPUT, input_capacity), input_tokens),
        ]
        for rule, needed in requests:
            if needed < 0:
                raise ValueError(f"{rule.kind.value}_tokens: must be >= 0, got {needed}")
        now = self.clock.now()
        future = self._store.commit_reserve(
            LimitsStore.reserve_tx(script_id, now, requests, self._store.owner)
        )
        try:
            if future.done():  # committed on this thread, no hop
                output_entry, input_entry = future.result()
            else:
                output_entry, input_entry = await asyncio.shield(asyncio.wrap_future(future))
        except Refusal as refusal:
            raise BudgetExceeded(
                script_id=script_id,
                bucket=refusal.bucket,
                available=refusal.available,
                needed=refusal.needed,
                capacity=refusal.capacity,
            ) from None
        except asyncio.CancelledError:
            # Not started yet: drop it. Already running: refund it once it has committed.
            if not future.cancel():
                loop = asyncio.get_running_loop()
                future.add_done_callback(lambda done: self._undo_cancelled_reserve(done, loop))
            raise
        self._notify()
        return Reservation(
            self,
            script_id,
            output_reserved=output_tokens,
            input_reserved=input_tokens,
            output_entry=output_entry,
            input_entry=input_entry,
            spent_at=now,
        )

    def _undo_cancelled_reserve(
        self, future: Future[list[int | None]], loop: asyncio.AbstractEventLoop
    ) -> None:
        """The caller was cancelled while its reserve committed: refund it (writer thread),
        then wake the waiters on ``loop``: the refund may be what they wait for."""
        if future.cancelled() or future.exception() is not None:
            return
        entries = [(entry, 0) for entry in future.result() if entry is not None]
        if not entries:
            return
        try:
            refund = self._store.submit(LimitsStore.settle_tx(entries))
        except RuntimeError:  # store closed meanwhile; the entries stay charged
            return
        refund.add_done_callback(lambda _: self._notify_from_thread(loop))

    def _notify_from_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(self._notify)

    def _settle_soon(
        self,
        script_id: str,
        settlements: Sequence[tuple[int, int]],
        prompt_ids: Sequence[int] | None = None,
    ) -> None:
        """Settle (and cache a succeeded prompt's blocks) now in memory, in the file at the end
        of this loop iteration (after the caller's answer went out; ``LimitsStore.settle_soon``),
        with the script's housekeeping (its returned entries are forgotten) once per
        ``HOUSEKEEPING_S``: none returns sooner than a window after its spend, and a settle
        with nothing else to write is then one statement.

        Every later write commits it first, so the next reserve sees it; reads here see it at
        once. A crash before the commit leaves the entries in flight, charged in full on
        recovery.
        """
        now = self.clock.now()
        cache = None
        if prompt_ids is not None:
            change = self._cache(script_id).insert(block_keys(prompt_ids), now)
            if change.touched or change.evicted:
                cache = (script_id, change.touched, change.evicted)
        if settlements or cache is not None:
            forget = None
            if now - self._housekept.get(script_id, -HOUSEKEEPING_S) >= HOUSEKEEPING_S:
                self._housekept[script_id] = now
                forget = ForgetReturned(script_id, self._rules, now)
            self._store.settle_soon(settlements, cache, defer=True, forget=forget)
        self._notify()

    async def flush(self) -> None:
        """Wait until every write queued so far (settles included) is committed."""
        await self._store.write(_no_write)

    async def recover_orphaned_reservations(self) -> int:
        """At host start: reservations left in flight by a crash are charged in full (we do
        not know how much was streamed, and a crash must never refill a bucket). Those of
        another ``Limits`` still open on the file (another process) are left to it."""
        count = await self._store.write(self._store.settle_orphaned_tx())
        self._notify()
        return count

    # -- prefix cache ----------------------------------------------------------------------------

    def _cache(self, script_id: str) -> ScriptPrefixCache:
        cache = self._caches.get(script_id)
        if cache is None:
            cache = ScriptPrefixCache.from_rows(
                self._store.cache_rows(script_id),
                self.config.cache_max_blocks,
                self.config.cache_expiry_s,
            )
            self._caches[script_id] = cache
        return cache

    def count_uncached(self, script_id: str, prompt_ids: Sequence[int]) -> int:
        """Prompt tokens that would be charged now (never changes the cache)."""
        cached = count_cached_tokens(self._cache(script_id), prompt_ids, self.clock.now())
        return len(prompt_ids) - cached

    async def insert(self, script_id: str, prompt_ids: Sequence[int]) -> None:
        """Remember a successful generation's prompt blocks (and evict what must go)."""
        change = self._cache(script_id).insert(block_keys(prompt_ids), self.clock.now())
        if change.touched or change.evicted:
            await self._store.write(LimitsStore.cache_tx(script_id, change.touched, change.evicted))

    # -- one generation ------------------------------------------------------------------------

    async def begin_generation(
        self,
        script_id: str,
        prompt_ids: Sequence[int],
        max_tokens: int,
        input_capacity: int | None = None,
    ) -> GenerationBudget:
        """Count the uncached prompt, reserve both buckets, and log the cache use."""
        now = self.clock.now()
        cached = count_cached_tokens(self._cache(script_id), prompt_ids, now)
        ring = self._recent.setdefault(script_id, deque(maxlen=self.config.recent_generations))
        record = GenerationRecord(now, len(prompt_ids), cached, GenerationOutcome.PENDING)
        try:
            reservation = await self.reserve(
                script_id,
                output_tokens=max_tokens,
                input_tokens=len(prompt_ids) - cached,
                input_capacity=input_capacity,
            )
        except BudgetExceeded:
            record.outcome = GenerationOutcome.REFUSED  # a limit check, observable (SPEC 5)
            ring.append(record)
            raise
        ring.append(record)
        return GenerationBudget(self, reservation, prompt_ids, cached, record)

    # -- diagnostics -----------------------------------------------------------------------------

    def diagnostics(self, script_id: str, input_capacity: int | None = None) -> ScriptDiagnostics:
        """Everything the diagnostics tab shows for one script."""
        entries, last = self._store.read_state(script_id)
        own, manual = self._store.interaction_times(script_id)
        now = self.clock.now()
        return ScriptDiagnostics(
            script_id=script_id,
            now=now,
            output=bucket_diagnostics(entries, self.rule(BucketKind.OUTPUT), now, last),
            input=bucket_diagnostics(
                entries, self.rule(BucketKind.INPUT, input_capacity), now, last
            ),
            last_interaction_at=own,
            last_manual_generation_at=manual,
            cache_blocks=self._cache(script_id).live_blocks(now),
            recent_generations=[record.stat() for record in self._recent.get(script_id, ())],
        )


def _no_write(conn: sqlite3.Connection) -> None:
    """A marker write: the writer runs writes in order, so its return means all before it."""
