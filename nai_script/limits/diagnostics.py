"""What the diagnostics tab shows per script: every limit check made observable."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from nai_script.limits.buckets import BucketKind, BucketRule, HeldEntry, available, held_now


class GenerationOutcome(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RELEASED = "released"
    REFUSED = "refused"  # a bucket could not cover it: nothing was charged or sent


class HeldEntryView(BaseModel):
    """One held charge and what it is waiting for."""

    model_config = ConfigDict(frozen=True)

    amount: int
    reserved: int
    in_flight: bool = Field(description="Reserved, generation not settled yet.")
    spent_at: float
    due_at: float = Field(description="When the window has passed (interaction aside).")
    waiting_for_interaction: bool = Field(description="No user interaction since the spend.")


class BucketDiagnostics(BaseModel):
    model_config = ConfigDict(frozen=True)

    bucket: BucketKind
    capacity: int
    window_s: float
    available: int
    held: int
    entries: list[HeldEntryView]
    next_return_at: float | None = Field(
        description="Earliest time an entry returns by itself (it already has an interaction "
        "after it); None if nothing is on its way back."
    )
    waiting_for_interaction: bool = Field(
        description="Some settled entry will only return after the user interacts."
    )


class GenerationCacheStat(BaseModel):
    """Prefix-cache accounting of one generation."""

    model_config = ConfigDict(frozen=True)

    at: float
    prompt_tokens: int
    cached: int
    uncached: int
    outcome: GenerationOutcome


@dataclass(slots=True)
class GenerationRecord:
    """One generation's cache use as it is kept (a plain record, its outcome set in place:
    one per generation); ``stat()`` is what diagnostics show."""

    at: float
    prompt_tokens: int
    cached: int
    outcome: GenerationOutcome

    def stat(self) -> GenerationCacheStat:
        return GenerationCacheStat(
            at=self.at,
            prompt_tokens=self.prompt_tokens,
            cached=self.cached,
            uncached=self.prompt_tokens - self.cached,
            outcome=self.outcome,
        )


class ScriptDiagnostics(BaseModel):
    model_config = ConfigDict(frozen=True)

    script_id: str
    now: float
    output: BucketDiagnostics
    input: BucketDiagnostics
    last_interaction_at: float | None
    last_manual_generation_at: float | None
    cache_blocks: int = Field(description="Prefix-cache blocks a lookup would find now.")
    recent_generations: list[GenerationCacheStat]


def bucket_diagnostics(
    entries: Sequence[HeldEntry], rule: BucketRule, now: float, last_interaction: float | None
) -> BucketDiagnostics:
    """Summarise one bucket from its entries."""
    held = held_now(entries, rule, now, last_interaction)
    views = [
        HeldEntryView(
            amount=e.amount,
            reserved=e.reserved,
            in_flight=not e.settled,
            spent_at=e.spent_at,
            due_at=e.due_at(rule),
            waiting_for_interaction=last_interaction is None or last_interaction <= e.spent_at,
        )
        for e in sorted(held, key=lambda e: (e.spent_at, e.id))
    ]
    on_their_way = [v.due_at for v in views if not v.in_flight and not v.waiting_for_interaction]
    return BucketDiagnostics(
        bucket=rule.kind,
        capacity=rule.capacity,
        window_s=rule.window_s,
        available=available(entries, rule, now, last_interaction),
        held=sum(v.amount for v in views),
        entries=views,
        next_return_at=min(on_their_way, default=None),
        waiting_for_interaction=any(v.waiting_for_interaction and not v.in_flight for v in views),
    )
