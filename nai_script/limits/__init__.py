"""Per-script limits: output/input token buckets, the 64-token prefix cache, persistence."""

from nai_script.limits.buckets import (
    BucketKind,
    BucketRule,
    BudgetExceeded,
    HeldEntry,
    LimitError,
    NeverFits,
)
from nai_script.limits.budget import GenerationBudget, Reservation, ReservationState
from nai_script.limits.clock import Clock, FakeClock, SteadyClock, SystemClock
from nai_script.limits.diagnostics import (
    BucketDiagnostics,
    GenerationCacheStat,
    GenerationOutcome,
    HeldEntryView,
    ScriptDiagnostics,
)
from nai_script.limits.prefix_cache import BLOCK_TOKENS, block_keys
from nai_script.limits.service import Limits, LimitsConfig

__all__ = [
    "BLOCK_TOKENS",
    "BucketDiagnostics",
    "BucketKind",
    "BucketRule",
    "BudgetExceeded",
    "Clock",
    "FakeClock",
    "GenerationBudget",
    "GenerationCacheStat",
    "GenerationOutcome",
    "HeldEntry",
    "HeldEntryView",
    "LimitError",
    "Limits",
    "LimitsConfig",
    "NeverFits",
    "Reservation",
    "ReservationState",
    "ScriptDiagnostics",
    "SteadyClock",
    "SystemClock",
    "block_keys",
]
