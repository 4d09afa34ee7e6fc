"""api.novelai.net account paths: login, subscription, information, token acceptance."""

from __future__ import annotations

import aiohttp
import pytest

from nai_script.client.models import LoginResponse, Subscription, UserInformation
from nai_script.sim import SimServer


async def test_login_is_201_and_its_token_is_accepted(sim: SimServer) -> None:
    sim.settings.valid_tokens = ["pst-only-this"]  # even with a restricted token list
    async with aiohttp.ClientSession(base_url=sim.base_url) as session:
        resp = await session.post("/user/login", json={"key": "k" * 64})
        assert resp.status == 201
        token = LoginResponse.model_validate(await resp.json()).accessToken
        again = await session.post("/user/login", json={"key": "k" * 64})
        assert (await again.json())["accessToken"] == token
        auth = {"Authorization": f"Bearer {token}"}
        resp = await session.get("/user/subscription", headers=auth)
        assert resp.status == 200


async def test_login_without_key_is_400(sim: SimServer) -> None:
    async with aiohttp.ClientSession(base_url=sim.base_url) as session:
        resp = await session.post("/user/login", json={})
        assert resp.status == 400
        assert (await resp.json())["message"].startswith("key:")


async def test_valid_tokens_setting_restricts_pst_tokens(sim: SimServer) -> None:
    sim.settings.valid_tokens = ["pst-good"]
    async with aiohttp.ClientSession(base_url=sim.base_url) as session:
        bad = await session.get("/user/subscription", headers={"Authorization": "Bearer pst-bad"})
        good = await session.get("/user/subscription", headers={"Authorization": "Bearer pst-good"})
        assert (bad.status, good.status) == (401, 200)


async def test_subscription_defaults_to_opus(http: aiohttp.ClientSession) -> None:
    resp = await http.get("/user/subscription")
    sub = Subscription.model_validate(await resp.json())
    assert sub.tier == 3
    assert sub.tier_name == "opus"
    assert sub.active
    assert sub.perks.contextTokens == 8192
    assert sub.perks.unlimitedImageGeneration


@pytest.mark.parametrize(("tier", "context"), [(0, 3072), (1, 3072), (2, 6144)])
async def test_subscription_follows_tier_setting(
    sim: SimServer, http: aiohttp.ClientSession, tier: int, context: int
) -> None:
    sim.settings.tier = tier
    sub = Subscription.model_validate(await (await http.get("/user/subscription")).json())
    assert (sub.tier, sub.perks.contextTokens) == (tier, context)
    assert sub.perks.unlimitedImageGeneration is False


async def test_information(http: aiohttp.ClientSession) -> None:
    resp = await http.get("/user/information")
    assert resp.status == 200
    assert UserInformation.model_validate(await resp.json()).emailVerified


@pytest.mark.parametrize("path", ["/user/subscription", "/user/information"])
async def test_account_paths_need_auth(sim: SimServer, path: str) -> None:
    async with aiohttp.ClientSession(base_url=sim.base_url) as session:
        resp = await session.get(path)
        assert resp.status == 401
        assert (await resp.json())["statusCode"] == 401
