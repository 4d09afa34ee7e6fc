"""``GET /user/keystore`` and ``GET /user/objects/{type}`` with the demo account's data.

Every accepted token sees the same demo account (credentials in ``docs/account.md``); its data
is encrypted exactly as NovelAI encrypts it, so the account tools are tested offline end to
end. Tests may replace or tamper with objects through ``app[DEMO_ACCOUNT_KEY]``.
"""

from __future__ import annotations

from aiohttp import web

from nai_script.account.demo import DemoAccount, build_demo_account
from nai_script.account.objects import OBJECT_TYPES
from nai_script.sim.auth import require_bearer
from nai_script.sim.errors import SimHTTPError
from nai_script.sim.read_faults import apply_read_faults
from nai_script.sim.state import SimState, state_of

DEMO_ACCOUNT_KEY = web.AppKey("nai_script_sim_demo_account", DemoAccount)


async def get_keystore(request: web.Request) -> web.Response:
    await apply_read_faults(request, state_of(request))
    require_bearer(request, state_of(request))
    account = request.app[DEMO_ACCOUNT_KEY]
    return web.json_response(account.keystore_wire())


async def get_objects(request: web.Request) -> web.Response:
    await apply_read_faults(request, state_of(request))
    require_bearer(request, state_of(request))
    object_type = request.match_info["type"]
    if object_type not in OBJECT_TYPES:
        allowed = ", ".join(sorted(OBJECT_TYPES))
        raise SimHTTPError(400, f"type: unknown object type {object_type!r} (allowed: {allowed})")
    account = request.app[DEMO_ACCOUNT_KEY]
    objects = account.objects.get(object_type, [])
    return web.json_response({"objects": [o.model_dump(mode="json") for o in objects]})


def register(app: web.Application, state: SimState) -> None:
    app[DEMO_ACCOUNT_KEY] = build_demo_account()
    app.router.add_get("/user/keystore", get_keystore)
    app.router.add_get("/user/objects/{type}", get_objects)
