"""Where the client connects and how patient it is.

Base URLs are settings, so one client talks to NovelAI, to the embedded simulator, or (with
`openai_compatible`) to any OpenAI-compatible server such as llama.cpp, vLLM or Ollama.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nai_script import __version__
from nai_script.client.retry import RetrySettings
from nai_script.config import NOVELAI_API_URL, NOVELAI_IMAGE_URL, NOVELAI_TEXT_URL

Host = Literal["text", "api", "image"]


class TimeoutSettings(BaseModel):
    """Seconds. `read` is the longest silence allowed before a stream's first byte and between
    two of its chunks; `total` alone bounds a whole non-streaming request (its server is silent
    until the whole answer is ready, so a long non-streamed generation is no stall). Streams
    have no total: a long generation that keeps producing tokens is healthy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connect: float = Field(default=10.0, gt=0)
    read: float = Field(default=60.0, gt=0)
    total: float = Field(default=120.0, gt=0)


class ClientSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text_url: str = NOVELAI_TEXT_URL
    api_url: str = NOVELAI_API_URL
    image_url: str = NOVELAI_IMAGE_URL
    token: SecretStr | None = Field(
        default=None, description="Persistent `pst-` token or access token, sent as Bearer."
    )
    openai_compatible: bool = Field(
        default=False,
        description="Use `/v1/...` paths (any OpenAI-compatible server) instead of `/oa/v1/...`.",
    )
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    extra_headers: dict[str, str] = Field(default_factory=dict)
    user_agent: str = f"nai-script/{__version__}"

    @field_validator("text_url", "api_url", "image_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @classmethod
    def for_base_url(cls, base_url: str, **overrides: object) -> ClientSettings:
        """All three hosts on one server (the simulator, or an OpenAI-compatible server)."""
        return cls.model_validate(
            {"text_url": base_url, "api_url": base_url, "image_url": base_url, **overrides}
        )

    def base_url(self, host: Host) -> str:
        if host == "text":
            return self.text_url
        if host == "api":
            return self.api_url
        return self.image_url
