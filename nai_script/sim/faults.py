"""Fault injection: a tiny spec language, its parsed model, and the seeded injector.

Spec syntax (used by ``--faults``, ``SimSettings.faults`` and the ``X-Sim-Fault`` header)::

    SPEC  := "" | "none" | RULE ("," RULE)*
    RULE  := KIND ["@" N] ["%" P] ["#" COUNT]
    KIND  := "429" | "limit" | "500" | "503" | "drop" | "slow"

- ``429``    answer 429 ``{"statusCode": 429, "message": "Concurrent generation is locked"}``
- ``limit``  answer 429 "Too many requests" (a plain rate limit, which clients may retry)
- ``500``    answer 500 with a NovelAI-style error body
- ``503``    answer 503 "Service unavailable"
- ``429@S``, ``limit@S``, ``503@S``: also send ``Retry-After: S`` (seconds)
- ``drop@N`` close the connection after N generated tokens (default 0; a non-streamed request
  gets no response at all)
- ``slow@N`` hold the first byte back for N milliseconds (default 1000)
- ``%P``     fire with probability P (0 < P <= 1, default 1), rolled on the seeded RNG so a run
  with the same seed and the same request order fails the same way
- ``#COUNT`` fire at most COUNT times over the run (e.g. ``500#2``: the first two requests fail)

Examples: ``drop@5``, ``429%0.5``, ``slow@200,500%0.1``, ``500#1``, ``limit@2#1``.
Run-wide faults (``--faults``, ``SimSettings.faults``) apply to generation requests only (text
and image). A request's ``X-Sim-Fault`` header replaces them for that request (``none`` =
none). Idempotent reads (models, token count, login, subscription, user information) get
their own run-wide spec, ``--read-faults`` / ``SimSettings.read_faults`` (none by default), so
a client's retries can be tested; ``drop`` there means no response at all.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FaultKind = Literal["429", "limit", "500", "503", "drop", "slow"]
FAULT_KINDS: tuple[str, ...] = ("429", "limit", "500", "503", "drop", "slow")
DEFAULT_SLOW_MS = 1000

CONCURRENCY_LOCKED_MESSAGE = "Concurrent generation is locked"
RATE_LIMITED_MESSAGE = "Too many requests (simulated fault)"
INTERNAL_ERROR_MESSAGE = "Internal server error (simulated fault)"
UNAVAILABLE_MESSAGE = "Service unavailable (simulated fault)"

# kind -> (status, message) for the faults that answer with an error
_STATUS_FAULTS: dict[str, tuple[int, str]] = {
    "429": (429, CONCURRENCY_LOCKED_MESSAGE),
    "limit": (429, RATE_LIMITED_MESSAGE),
    "500": (500, INTERNAL_ERROR_MESSAGE),
    "503": (503, UNAVAILABLE_MESSAGE),
}
_RETRY_AFTER_KINDS = ("429", "limit", "503")

_RULE_RE = re.compile(
    r"^(?P<kind>[A-Za-z0-9]+)"
    r"(?:@(?P<arg>[^%#]*))?"
    r"(?:%(?P<prob>[^@#]*))?"
    r"(?:#(?P<count>[^@%]*))?$"
)


class FaultSpecError(ValueError):
    """A fault spec did not parse; the message quotes the offending rule and part."""


class FaultRule(BaseModel):
    """One parsed rule, e.g. ``drop@5%0.5``."""

    model_config = ConfigDict(frozen=True)

    kind: FaultKind
    arg: int | None = Field(
        default=None,
        ge=0,
        description="drop: tokens; slow: milliseconds; 429/limit/503: Retry-After seconds",
    )
    probability: float = Field(default=1.0, gt=0, le=1)
    max_count: int | None = Field(default=None, ge=1)

    def render(self) -> str:
        text: str = self.kind
        if self.arg is not None:
            text += f"@{self.arg}"
        if self.probability != 1.0:
            text += f"%{self.probability:g}"
        if self.max_count is not None:
            text += f"#{self.max_count}"
        return text


class FaultSpec(BaseModel):
    """A parsed fault spec; build it with :meth:`parse` or pass the spec string anywhere a
    ``FaultSpec`` is expected (pydantic fields accept both)."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[FaultRule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _accept_spec_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"rules": _parse_rules(value)}
        return value

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        """Parse ``text``; raises :class:`FaultSpecError` naming the bad rule and part."""
        return cls(rules=_parse_rules(text))

    def render(self) -> str:
        return ",".join(rule.render() for rule in self.rules) or "none"

    def __str__(self) -> str:
        return self.render()


def _parse_rules(text: str) -> tuple[FaultRule, ...]:
    stripped = text.strip()
    if stripped.lower() in ("", "none"):
        return ()
    return tuple(
        _parse_rule(part.strip(), position)
        for position, part in enumerate(stripped.split(","), start=1)
    )


def _parse_rule(part: str, position: int) -> FaultRule:
    where = f"fault spec rule {position} {part!r}"
    if not part:
        raise FaultSpecError(f"{where}: empty rule (stray comma?)")
    match = _RULE_RE.match(part)
    if match is None:
        raise FaultSpecError(f"{where}: expected KIND[@N][%P][#COUNT] with the parts in that order")
    kind = match["kind"].lower()
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f"{where}: unknown kind {kind!r} (allowed: {', '.join(FAULT_KINDS)})")
    arg = _parse_int(match["arg"], where, "@", minimum=0)
    if arg is not None and kind == "500":
        raise FaultSpecError(f"{where}: '@{arg}' means nothing for kind {kind!r}")
    count = _parse_int(match["count"], where, "#", minimum=1)
    probability = 1.0
    if match["prob"] is not None:
        try:
            probability = float(match["prob"])
        except ValueError:
            raise FaultSpecError(f"{where}: '%{match['prob']}' is not a number") from None
        if not 0 < probability <= 1:
            raise FaultSpecError(f"{where}: probability '%{match['prob']}' must be in (0, 1]")
    return FaultRule(kind=kind, arg=arg, probability=probability, max_count=count)


def _parse_int(raw: str | None, where: str, marker: str, *, minimum: int) -> int | None:
    if raw is None:
        return None
    if not raw.isdigit():
        raise FaultSpecError(f"{where}: '{marker}{raw}' is not a whole number")
    value = int(raw)
    if value < minimum:
        raise FaultSpecError(f"{where}: '{marker}{raw}' must be at least {minimum}")
    return value


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one request, decided before it is served."""

    status: int | None = None
    message: str = ""
    retry_after: int | None = None
    drop_after: int | None = None
    slow_ms: int = 0

    @property
    def is_clean(self) -> bool:
        return self.status is None and self.drop_after is None and self.slow_ms == 0


class FaultInjector:
    """Decides each request's faults. Rolls come from one RNG seeded with the run's seed, so
    the same seed and the same request order give the same failures."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._fired: dict[tuple[int, str], int] = {}
        self._spec_seen: FaultSpec | None = None

    def reseed(self, seed: int) -> None:
        if seed != self._seed:
            self._seed = seed
            self._rng = random.Random(seed)

    def plan(self, run_spec: FaultSpec, request_spec: FaultSpec | None = None) -> FaultPlan:
        """The plan for one request; ``request_spec`` (from the header) replaces ``run_spec``."""
        if request_spec is not None:
            return self._plan_rules(request_spec.rules, counted=False)
        if run_spec != self._spec_seen:  # a new run spec starts its '#COUNT' budgets afresh
            self._spec_seen = run_spec
            self._fired.clear()
        return self._plan_rules(run_spec.rules, counted=True)

    def _plan_rules(self, rules: tuple[FaultRule, ...], *, counted: bool) -> FaultPlan:
        status: int | None = None
        message = ""
        retry_after: int | None = None
        drop_after: int | None = None
        slow_ms = 0
        for index, rule in enumerate(rules):
            key = (index, rule.render())
            if counted and rule.max_count is not None and self._fired.get(key, 0) >= rule.max_count:
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            if counted:
                self._fired[key] = self._fired.get(key, 0) + 1
            if rule.kind in _STATUS_FAULTS:
                if status is None:
                    status, message = _STATUS_FAULTS[rule.kind]
                    retry_after = rule.arg if rule.kind in _RETRY_AFTER_KINDS else None
            elif rule.kind == "drop":
                after = rule.arg or 0
                drop_after = after if drop_after is None else min(drop_after, after)
            elif rule.kind == "slow":
                slow_ms += DEFAULT_SLOW_MS if rule.arg is None else rule.arg
        return FaultPlan(
            status=status,
            message=message,
            retry_after=retry_after,
            drop_after=drop_after,
            slow_ms=slow_ms,
        )
