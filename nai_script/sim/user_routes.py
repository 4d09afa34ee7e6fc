"""api.novelai.net account paths: login (201), subscription, user information."""

from __future__ import annotations

import time

from aiohttp import web

from nai_script.client.models import (
    LoginRequest,
    LoginResponse,
    Subscription,
    SubscriptionPerks,
    TrainingStepsLeft,
    UserInformation,
)
from nai_script.sim.auth import issue_token, require_bearer
from nai_script.sim.errors import parse_body, read_json_object
from nai_script.sim.read_faults import apply_read_faults
from nai_script.sim.state import SimState, state_of

# Context tokens each tier grants (Paper, Tablet, Scroll, Opus).
TIER_CONTEXT_TOKENS: tuple[int, ...] = (3072, 3072, 6144, 8192)
_YEAR_SECONDS = 365 * 24 * 3600


def register(app: web.Application, state: SimState) -> None:
    app.router.add_post("/user/login", login)
    app.router.add_get("/user/subscription", subscription)
    app.router.add_get("/user/information", information)


async def login(request: web.Request) -> web.Response:
    state = state_of(request)
    await apply_read_faults(request, state)
    req = parse_body(LoginRequest, await read_json_object(request))
    reply = LoginResponse(accessToken=issue_token(state, req.key))
    return web.json_response(reply.to_wire(), status=201)


def subscription_for_tier(tier: int) -> Subscription:
    """What NovelAI reports for an active subscription at ``tier``."""
    paid = tier > 0
    return Subscription(
        tier=tier,
        active=paid,
        expiresAt=int(time.time()) + _YEAR_SECONDS if paid else 0,
        perks=SubscriptionPerks(
            maxPriorityActions=1000 if paid else 0,
            startPriority=10 if paid else 0,
            moduleTrainingSteps=10000 if tier == 3 else 0,
            unlimitedMaxPriority=tier == 3,
            voiceGeneration=paid,
            imageGeneration=paid,
            unlimitedImageGeneration=tier == 3,
            contextTokens=TIER_CONTEXT_TOKENS[tier],
        ),
        trainingStepsLeft=TrainingStepsLeft(fixedTrainingStepsLeft=10000 if tier == 3 else 0),
    )


async def subscription(request: web.Request) -> web.Response:
    state = state_of(request)
    await apply_read_faults(request, state)
    require_bearer(request, state)
    return web.json_response(subscription_for_tier(state.settings.tier).to_wire())


async def information(request: web.Request) -> web.Response:
    state = state_of(request)
    await apply_read_faults(request, state)
    require_bearer(request, state)
    info = UserInformation(emailVerified=True, emailVerificationLetterSent=True)
    return web.json_response(info.to_wire())
