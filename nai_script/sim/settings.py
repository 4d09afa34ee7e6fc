"""The simulator's settings: one pydantic model, mutable while the server runs so tests can
turn a knob mid-run (``sim.settings.tokens_per_second = 50``) and the next request sees it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from nai_script.sim.faults import FaultSpec


class SimSettings(BaseModel):
    """Everything that shapes how the simulator answers. Assignments are validated."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    seed: int = Field(default=0, description="Seeds generated text and probabilistic faults.")
    # Finite only: an infinite latency would hold every request forever (a hang, not a setting).
    latency_ms: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Delay before the first token."
    )
    tokens_per_second: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="Streaming pace per generation; 0 means unlimited.",
    )
    faults: FaultSpec = Field(
        default_factory=FaultSpec,
        description="Run-wide faults; a spec string such as 'drop@5,429%0.5' is accepted.",
    )
    read_faults: FaultSpec = Field(
        default_factory=FaultSpec,
        description="Faults for idempotent reads (models, token count, login, subscription, "
        "user information, keystore, objects), so client retries can be tested; e.g. "
        "'limit@2#1' or '503#2'.",
    )
    tier: int = Field(default=3, ge=0, le=3, description="Subscription tier; 3 is Opus.")
    text_concurrency_lock: bool = Field(
        default=False, description="429 a text generation while the same token has one running."
    )
    image_concurrency_lock: bool = Field(
        default=True, description="429 an image generation while the same token has one running."
    )
    valid_tokens: list[str] | None = Field(
        default=None,
        description="If set, only these bearer tokens (plus tokens issued by /user/login) are "
        "accepted; if unset, any 'pst-' token is.",
    )
    accept_unknown_models: bool = Field(
        default=False,
        description="Serve model ids the simulator does not list (as NovelAI would not).",
    )
