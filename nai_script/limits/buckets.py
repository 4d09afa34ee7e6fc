"""Pure token-bucket arithmetic over held entries (no I/O, no clock of its own).

An entry is one generation's charge to one bucket. It returns to the bucket only when BOTH the
bucket's window has passed since it was spent AND the script's user has interacted after it.
Entries still in flight (reserved, not settled) never return: the generation is still running.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class BucketKind(StrEnum):
    """The two per-script buckets."""

    OUTPUT = "output"
    INPUT = "input"


class BucketRule(BaseModel):
    """Capacity and return window of one bucket."""

    model_config = ConfigDict(frozen=True)

    kind: BucketKind
    capacity: int = Field(gt=0)
    window_s: float = Field(gt=0)


class HeldEntry(BaseModel):
    """Tokens taken from a bucket by one generation."""

    model_config = ConfigDict(frozen=True)

    id: int
    script_id: str
    bucket: BucketKind
    amount: int = Field(ge=0, description="Tokens held now (the reservation until settled).")
    reserved: int = Field(ge=0, description="Tokens reserved before sending.")
    spent_at: float = Field(description="Wall seconds when the generation was reserved.")
    settled: bool = Field(description="False while the generation is in flight.")

    def due_at(self, rule: BucketRule) -> float:
        """When the window will have passed (the interaction condition aside)."""
        return self.spent_at + rule.window_s


class LimitError(Exception):
    """Base of the errors the limits raise."""


class BudgetExceeded(LimitError):
    """A reservation was refused; nothing was charged."""

    def __init__(
        self, *, script_id: str, bucket: BucketKind, available: int, needed: int, capacity: int
    ) -> None:
        self.script_id = script_id
        self.bucket = bucket
        self.available = available
        self.needed = needed
        self.capacity = capacity
        super().__init__(
            f"{bucket.value} budget of script {script_id!r}: needs {needed} tokens, "
            f"{available} available (capacity {capacity})"
        )


class NeverFits(LimitError, ValueError):
    """Asked to wait for more tokens than the bucket can ever hold."""

    def __init__(self, *, bucket: BucketKind, needed: int, capacity: int) -> None:
        self.bucket = bucket
        self.needed = needed
        self.capacity = capacity
        super().__init__(
            f"{bucket.value} budget: {needed} tokens can never be available (capacity {capacity})"
        )


class Spend(Protocol):
    """What the return rule reads of an entry (``HeldEntry``, the image budget's entries)."""

    @property
    def settled(self) -> bool: ...

    @property
    def spent_at(self) -> float: ...


class Window(Protocol):
    """What the return rule reads of a rule (``BucketRule``, the image budget's config)."""

    @property
    def window_s(self) -> float: ...


def is_returned(entry: Spend, rule: Window, now: float, last_interaction: float | None) -> bool:
    """Both conditions: window passed (inclusive) and an interaction strictly after the spend.

    In-flight entries never return. The one return rule: the token buckets, their SQL twin in
    ``store._RETURNED`` and the image budget all apply it.
    """
    return (
        entry.settled
        and now >= entry.spent_at + rule.window_s
        and last_interaction is not None
        and last_interaction > entry.spent_at
    )


def held_now(
    entries: Iterable[HeldEntry], rule: BucketRule, now: float, last_interaction: float | None
) -> list[HeldEntry]:
    """The entries of ``rule``'s bucket that still count against it."""
    return [
        e
        for e in entries
        if e.bucket is rule.kind and not is_returned(e, rule, now, last_interaction)
    ]


def available(
    entries: Iterable[HeldEntry], rule: BucketRule, now: float, last_interaction: float | None
) -> int:
    """Tokens that can be taken now (never negative, even after an over-settle)."""
    held = sum(e.amount for e in held_now(entries, rule, now, last_interaction))
    return max(0, rule.capacity - held)


def check_needed(rule: BucketRule, needed: int) -> None:
    """Reject negative amounts and amounts no bucket state could ever satisfy."""
    if needed < 0:
        raise ValueError(f"{rule.kind.value} tokens: must be >= 0, got {needed}")
    if needed > rule.capacity:
        raise NeverFits(bucket=rule.kind, needed=needed, capacity=rule.capacity)


def ms_until_available(
    entries: Iterable[HeldEntry],
    rule: BucketRule,
    now: float,
    last_interaction: float | None,
    needed: int,
) -> int:
    """Milliseconds until ``needed`` tokens are available, ignoring the interaction condition.

    Walks the held entries in return order, adding each back until enough is free. In-flight
    entries count at their reservation (a settle can only make it sooner).
    """
    check_needed(rule, needed)
    held = held_now(entries, rule, now, last_interaction)
    free = rule.capacity - sum(e.amount for e in held)
    if free >= needed:
        return 0
    for entry in sorted(held, key=lambda e: (e.due_at(rule), e.id)):
        free += entry.amount
        if free >= needed:
            return max(0, math.ceil(round((entry.due_at(rule) - now) * 1000, 6)))
    return max(0, math.ceil((max(e.due_at(rule) for e in held) - now) * 1000))


def next_return_at(
    entries: Iterable[HeldEntry], rule: BucketRule, now: float, last_interaction: float | None
) -> float | None:
    """The earliest future moment at which time alone changes the bucket (or None)."""
    due = [
        e.due_at(rule)
        for e in held_now(entries, rule, now, last_interaction)
        if e.settled and e.due_at(rule) > now
    ]
    return min(due, default=None)
