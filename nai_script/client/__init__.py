"""The async NovelAI client core: one aiohttp session, typed wire models, SSE, errors, retries.

It knows nothing of scripts; the host composes it with the sandbox and the limits.
"""

from __future__ import annotations

from nai_script.client import codec, errors, models, sse
from nai_script.client.client import NovelAIClient
from nai_script.client.errors import NovelAIError
from nai_script.client.retry import RetrySettings
from nai_script.client.settings import ClientSettings, Host, TimeoutSettings

__all__ = [
    "ClientSettings",
    "Host",
    "NovelAIClient",
    "NovelAIError",
    "RetrySettings",
    "TimeoutSettings",
    "codec",
    "errors",
    "models",
    "sse",
]
