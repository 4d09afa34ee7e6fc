"""Reserve before sending, settle after: one generation's charge to both buckets.

A ``Reservation`` holds the entries a generation took. ``settle`` charges what was really used
in those same entries (keeping their spend time), ``release`` refunds everything (the call was
never sent). ``GenerationBudget`` adds the prefix cache: it knows the prompt, records the cache
hit/miss for diagnostics, and inserts the prompt's blocks only when the generation succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING

from nai_script.limits.diagnostics import GenerationOutcome, GenerationRecord

if TYPE_CHECKING:
    from nai_script.limits.service import Limits


class ReservationState(StrEnum):
    OPEN = "open"
    SETTLED = "settled"
    RELEASED = "released"


class Reservation:
    """Tokens held for one in-flight generation (create with ``Limits.reserve``)."""

    def __init__(
        self,
        limits: Limits,
        script_id: str,
        *,
        output_reserved: int,
        input_reserved: int,
        output_entry: int | None,
        input_entry: int | None,
        spent_at: float,
    ) -> None:
        self._limits = limits
        self.script_id = script_id
        self.output_reserved = output_reserved
        self.input_reserved = input_reserved
        self.spent_at = spent_at
        self._output_entry = output_entry
        self._input_entry = input_entry
        self.state = ReservationState.OPEN
        self.output_charged = 0
        self.input_charged = 0

    def _close(self, state: ReservationState) -> None:
        if self.state is not ReservationState.OPEN:
            raise RuntimeError(
                f"reservation of script {self.script_id!r} is already {self.state.value}"
            )
        self.state = state

    def _charge(self, output_used: int, input_used: int | None) -> list[tuple[int, int]]:
        """Validate, close the reservation, and say what each entry is charged."""
        used_input = self.input_reserved if input_used is None else input_used
        for name, value in (("output_used", output_used), ("input_used", used_input)):
            if value < 0:
                raise ValueError(f"{name}: must be >= 0, got {value}")
        self._close(ReservationState.SETTLED)
        settlements: list[tuple[int, int]] = []
        if self._output_entry is not None:
            settlements.append((self._output_entry, output_used))
        if self._input_entry is not None:
            settlements.append((self._input_entry, used_input))
        self.output_charged = output_used if self._output_entry is not None else 0
        self.input_charged = used_input if self._input_entry is not None else 0
        return settlements

    async def settle(self, output_used: int, input_used: int | None = None) -> None:
        """Charge what the generation really used (input defaults to the reservation).

        A charge above the reservation is kept as charged (the tokens were really used); the
        bucket then shows 0 available, never a negative amount. Visible to this ``Limits`` at
        once; committed in order in the background (``Limits.flush`` waits for it).
        """
        self._limits._settle_soon(self.script_id, self._charge(output_used, input_used))

    async def release(self) -> None:
        """Refund everything: the generation was never sent."""
        self._close(ReservationState.RELEASED)
        settlements = [(e, 0) for e in (self._output_entry, self._input_entry) if e is not None]
        self._limits._settle_soon(self.script_id, settlements)


class GenerationBudget:
    """One generation's reservation plus its prompt (create with ``Limits.begin_generation``)."""

    def __init__(
        self,
        limits: Limits,
        reservation: Reservation,
        prompt_ids: Sequence[int],
        cached_tokens: int,
        record: GenerationRecord,
    ) -> None:
        self._limits = limits
        self.reservation = reservation
        self.prompt_ids = list(prompt_ids)
        self.prompt_tokens = len(prompt_ids)
        self.cached_tokens = cached_tokens
        self.uncached_tokens = len(prompt_ids) - cached_tokens
        self._record = record

    async def succeed(self, output_used: int) -> None:
        """Charge the output used and the uncached input, and cache the prompt's blocks: one
        commit, queued (the result need not wait for its fsync)."""
        reservation = self.reservation
        settlements = reservation._charge(output_used, self.uncached_tokens)
        self._limits._settle_soon(reservation.script_id, settlements, self.prompt_ids)
        self._record.outcome = GenerationOutcome.SUCCEEDED

    async def fail(self, output_streamed: int, *, charge_input: bool | None = None) -> None:
        """A failed or cancelled call: charge only what was streamed.

        The input is charged only if the backend demonstrably read the prompt (some output was
        streamed) unless ``charge_input`` says otherwise. Nothing is cached.
        """
        charge = output_streamed > 0 if charge_input is None else charge_input
        await self.reservation.settle(output_streamed, self.uncached_tokens if charge else 0)
        self._record.outcome = GenerationOutcome.FAILED

    async def release(self) -> None:
        """The request was never sent: refund everything."""
        await self.reservation.release()
        self._record.outcome = GenerationOutcome.RELEASED

    async def __aenter__(self) -> GenerationBudget:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        """Leaving without ``succeed``/``fail`` refunds (cancellation before sending)."""
        if self.reservation.state is ReservationState.OPEN:
            await asyncio.shield(self.release())
