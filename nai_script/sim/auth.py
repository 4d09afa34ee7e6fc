"""Bearer-token checks, answered the way NovelAI answers them (401 with an error body)."""

from __future__ import annotations

import hashlib

from aiohttp import web

from nai_script.sim.errors import SimHTTPError
from nai_script.sim.state import SimState


def require_bearer(request: web.Request, state: SimState) -> str:
    """The request's accepted bearer token, or a 401 ``SimHTTPError``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SimHTTPError(401, "Unauthorized: send 'Authorization: Bearer <token>'")
    if not state.token_is_valid(token):
        raise SimHTTPError(401, "Unauthorized: invalid access token")
    return token


def issue_token(state: SimState, access_key: str) -> str:
    """A stable token for an access key, remembered so later requests may use it."""
    digest = hashlib.blake2b(f"{state.settings.seed}:{access_key}".encode(), digest_size=24)
    token = f"sim-{digest.hexdigest()}"
    state.issued_tokens.add(token)
    return token
