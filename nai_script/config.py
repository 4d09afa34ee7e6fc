"""Where a command's settings come from: flags first, then the environment, then defaults.

One resolver, so every command (``generate``, ``run``, ``serve``...) picks its backend the same
way and the precedence is tested once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

ENV_TOKEN = "NAI_TOKEN"
#: The openai backend's key: never ``NAI_TOKEN``, a NovelAI secret a third-party server must not see.
ENV_OPENAI_KEY = "OPENAI_API_KEY"
ENV_BACKEND = "NAI_SCRIPT_BACKEND"
ENV_BASE_URL = "NAI_SCRIPT_BASE_URL"

NOVELAI_TEXT_URL = "https://text.novelai.net"
NOVELAI_API_URL = "https://api.novelai.net"
NOVELAI_IMAGE_URL = "https://image.novelai.net"


class BackendKind(StrEnum):
    """Which server answers generation requests."""

    SIM = "sim"
    NOVELAI = "novelai"
    OPENAI = "openai"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


class BackendConfig(BaseModel):
    """The resolved backend choice for one run."""

    model_config = ConfigDict(frozen=True)

    kind: BackendKind = BackendKind.SIM
    base_url: str | None = Field(
        default=None,
        description="Override for the backend's base URL (required for openai; for novelai it "
        "replaces the text, account and image hosts, for a proxy or a simulator serving them "
        "all; for sim it points at an already running simulator).",
    )
    token: str | None = Field(default=None, repr=False)


def resolve_backend_kind(
    backend: str | None = None, *, env: Mapping[str, str] | None = None
) -> BackendKind:
    """Only which backend (flag, then env, then sim), without the token or URL checks of
    :func:`resolve_backend`: for work that never calls the backend, such as tokenizing."""
    environ = os.environ if env is None else env
    kind_text = backend or environ.get(ENV_BACKEND) or BackendKind.SIM.value
    try:
        return BackendKind(kind_text.strip().lower())
    except ValueError:
        allowed = ", ".join(k.value for k in BackendKind)
        source = "--backend" if backend else ENV_BACKEND
        raise ConfigError(f"{source}: unknown backend {kind_text!r} (allowed: {allowed})") from None


def resolve_backend(
    *,
    backend: str | None = None,
    base_url: str | None = None,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    token_optional: bool = False,
) -> BackendConfig:
    """Combine flags (arguments) with the environment; flags win, then env, then defaults.

    ``token_optional``: the novelai backend may go without ``NAI_TOKEN``, for work that logs
    in with an email and password and so gets its token from the server."""
    environ = os.environ if env is None else env
    kind = resolve_backend_kind(backend, env=environ)
    env_url = environ.get(ENV_BASE_URL) or None
    env_kind = (environ.get(ENV_BACKEND) or "").strip().lower()
    foreign = env_url is not None and bool(env_kind) and env_kind != kind.value
    # A URL the environment sets beside NAI_SCRIPT_BACKEND belongs to that backend: carried to
    # another one chosen by --backend it would send NAI_TOKEN to an OpenAI server's URL, or
    # take a '--backend sim' run (labelled offline) to NovelAI itself.
    url = base_url or (None if foreign else env_url)
    tok = token or environ.get(ENV_OPENAI_KEY if kind is BackendKind.OPENAI else ENV_TOKEN) or None
    if kind is BackendKind.OPENAI and not url:
        note = f" ({ENV_BASE_URL} is for {ENV_BACKEND}={env_kind})" if foreign else ""
        raise ConfigError(
            f"the openai backend needs a server: pass --base-url URL or set {ENV_BASE_URL}{note}"
        )
    if kind is BackendKind.NOVELAI and not tok and not token_optional:
        raise ConfigError(
            f"the novelai backend needs an API token: set {ENV_TOKEN} (a persistent 'pst-' token "
            "from NovelAI's account settings)"
        )
    if url is not None and (
        not url.startswith(("http://", "https://")) or not urlsplit(url).hostname
    ):
        source = "--base-url" if base_url else ENV_BASE_URL
        raise ConfigError(f"{source}: {url!r} is not an http(s) URL with a host")
    if kind is BackendKind.OPENAI and url is not None:
        # OpenAI clients (and Ollama's, vLLM's, llama.cpp's docs) spell the base URL with its
        # /v1; the client adds /v1/completions itself, and /v1/v1/... would be a 404.
        parts = urlsplit(url.rstrip("/"))
        if parts.path.endswith("/v1"):
            url = urlunsplit(parts._replace(path=parts.path.removesuffix("/v1")))
    if kind is BackendKind.SIM and url is None:
        # The in-process simulator is started for this run and knows only its own tokens: a
        # NAI_TOKEN meant for NovelAI (say an access token, not 'pst-') would get every
        # offline request refused with 401, and the secret has no business there anyway.
        tok = None
    return BackendConfig(kind=kind, base_url=url.rstrip("/") if url else None, token=tok)
