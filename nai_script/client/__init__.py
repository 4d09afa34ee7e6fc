"""The async NovelAI client core: one aiohttp session, typed wire models, SSE, errors, retries.

It knows nothing of scripts; the host composes it with the sandbox and the limits.
"""

from __future__ import annotations

from nai_script.client import models

__all__ = ["models"]
