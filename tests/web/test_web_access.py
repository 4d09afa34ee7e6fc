"""Who may reach the editor: token on the page and the WebSocket, Host and Origin checks."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from web_helpers import base, served

from nai_script.web.security import AccessPolicy


def test_policy_hosts_and_origins() -> None:
    policy = AccessPolicy(token="t0k", bound_host="127.0.0.1", port=8765)
    assert policy.host_ok("127.0.0.1:8765")
    assert policy.host_ok("LOCALHOST:8765")
    assert policy.host_ok("[::1]:8765")
    assert not policy.host_ok("127.0.0.1:8766")  # another port
    assert not policy.host_ok("evil.example:8765")  # DNS rebinding
    assert not policy.host_ok("127.0.0.1")  # no port
    assert not policy.host_ok(None)
    assert policy.origin_ok(None)
    assert policy.origin_ok("http://localhost:8765")
    assert not policy.origin_ok("http://evil.example:8765")
    assert not policy.origin_ok("https://127.0.0.1:8765")  # another scheme is another origin
    assert not policy.origin_ok("null")


def test_policy_token_and_refusal_reasons() -> None:
    policy = AccessPolicy(token="t0k", bound_host="::1", port=80)
    assert policy.host_ok("[::1]:80")
    assert policy.token_ok("t0k")
    assert not policy.token_ok("t0K")
    assert not policy.token_ok("")
    assert not policy.token_ok(None)
    ok = {"host": "[::1]:80", "origin": None, "token": "t0k", "needs_token": True}
    assert policy.refusal(**ok) is None  # type: ignore[arg-type]
    assert "token" in (policy.refusal(**{**ok, "token": None}) or "")  # type: ignore[arg-type]
    assert "Host" in (policy.refusal(**{**ok, "host": "x:80"}) or "")  # type: ignore[arg-type]
    assert "Origin" in (policy.refusal(**{**ok, "origin": "http://x"}) or "")  # type: ignore[arg-type]
    assert policy.refusal(**{**ok, "token": None, "needs_token": False}) is None  # type: ignore[arg-type]
    assert policy.url() == "http://[::1]:80/?token=t0k"


def test_policy_on_the_default_port_takes_hosts_without_a_port() -> None:
    """On port 80 a browser sends ``Host: localhost`` and ``Origin: http://localhost``: the
    printed URL was refused by the browser it was opened in."""
    policy = AccessPolicy(token="t0k", bound_host="127.0.0.1", port=80)
    assert policy.host_ok("localhost")
    assert policy.host_ok("127.0.0.1")
    assert policy.host_ok("[::1]")
    assert policy.host_ok("localhost:80")
    assert policy.origin_ok("http://localhost")
    assert not policy.host_ok("evil.example")
    assert not policy.origin_ok("http://evil.example")


def test_policy_bound_to_every_interface_takes_this_machines_addresses() -> None:
    """``--host 0.0.0.0`` (to use the editor from another machine) refused every request
    naming the machine's address: only loopback names passed the Host check."""
    policy = AccessPolicy(token="t0k", bound_host="0.0.0.0", port=8765)
    assert policy.host_ok("192.168.1.5:8765")
    assert policy.host_ok("[fd00::2]:8765")
    assert policy.host_ok("localhost:8765")
    assert not policy.host_ok("192.168.1.5:8766")  # another port
    assert not policy.host_ok("192.168.1.5")  # no port: 80
    assert not policy.host_ok("fd00::2:8765")  # an IPv6 literal must be bracketed
    assert not policy.host_ok("evil.example:8765")  # DNS rebinding still refused
    assert not policy.host_ok("192.168.1.5.evil.example:8765")
    # Origin: the address the request was sent to, not just any address.
    assert policy.origin_ok("http://192.168.1.5:8765", "192.168.1.5:8765")
    assert not policy.origin_ok("http://6.6.6.6:8765", "192.168.1.5:8765")
    assert not policy.origin_ok("http://192.168.1.5:8765", None)
    assert not policy.origin_ok("https://192.168.1.5:8765", "192.168.1.5:8765")
    loopback = AccessPolicy(token="t0k", bound_host="127.0.0.1", port=8765)
    assert not loopback.host_ok("192.168.1.5:8765")
    assert not loopback.origin_ok("http://192.168.1.5:8765", "192.168.1.5:8765")


async def test_bound_to_every_interface_the_page_opens_by_address(tmp_path: Path) -> None:
    """127.0.0.2 stands in for a LAN address: a loopback address that is no loopback name."""
    async with served(tmp_path, host="0.0.0.0") as server, aiohttp.ClientSession() as http:
        port, token = server.policy.port, server.policy.token
        async with http.get(f"http://127.0.0.2:{port}/?token={token}") as response:
            assert response.status == 200, await response.text()
        origin = {"Origin": f"http://127.0.0.2:{port}"}
        async with http.ws_connect(f"ws://127.0.0.2:{port}/ws?token={token}", headers=origin) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "state"
        async with http.get(
            f"http://127.0.0.2:{port}/?token={token}", headers={"Host": f"evil.example:{port}"}
        ) as response:
            assert response.status == 403


async def test_page_needs_the_token(tmp_path: Path) -> None:
    async with served(tmp_path) as server, aiohttp.ClientSession() as http:
        root = base(server)
        async with http.get(f"{root}/?token={server.policy.token}") as response:
            assert response.status == 200
            assert "/static/app.js" in await response.text()
            assert response.headers["Cache-Control"] == "no-store"
        for query in ("", "?token=", "?token=wrong", f"?token={server.policy.token}x"):
            async with http.get(f"{root}/{query}") as response:
                assert response.status == 403, query
                assert "token" in await response.text()
        assert server.url == f"{root}/?token={server.policy.token}"


async def test_wrong_host_or_origin_is_refused_even_with_the_token(tmp_path: Path) -> None:
    async with served(tmp_path) as server, aiohttp.ClientSession() as http:
        port = server.policy.port
        page = f"{base(server)}/?token={server.policy.token}"
        async with http.get(page, headers={"Host": f"localhost:{port}"}) as response:
            assert response.status == 200
        async with http.get(page, headers={"Host": f"attacker.example:{port}"}) as response:
            assert response.status == 403
            assert "attacker.example" in await response.text()
        async with http.get(page, headers={"Origin": "http://attacker.example"}) as response:
            assert response.status == 403
        async with http.get(page, headers={"Origin": f"http://127.0.0.1:{port}"}) as response:
            assert response.status == 200
        # Static modules need no token but do need the right Host.
        async with http.get(f"{base(server)}/static/app.js") as response:
            assert response.status == 200
            assert response.content_type == "text/javascript"
        async with http.get(
            f"{base(server)}/static/app.js", headers={"Host": f"evil:{port}"}
        ) as response:
            assert response.status == 403


async def test_websocket_refusals(tmp_path: Path) -> None:
    async with served(tmp_path) as server, aiohttp.ClientSession() as http:
        root = base(server).replace("http", "ws")
        token = server.policy.token
        refused = [
            (f"{root}/ws", {}),
            (f"{root}/ws?token=nope", {}),
            (f"{root}/ws?token={token}", {"Origin": "http://attacker.example"}),
            (f"{root}/ws?token={token}", {"Host": f"attacker.example:{server.policy.port}"}),
        ]
        for url, headers in refused:
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(url, headers=headers)
            assert caught.value.status == 403, (url, headers)
        origin = {"Origin": f"http://localhost:{server.policy.port}"}
        async with http.ws_connect(f"{root}/ws?token={token}", headers=origin) as ws:
            first = await ws.receive_json(timeout=10)
            assert first["type"] == "state"


async def test_static_files_come_from_the_package_table_only(tmp_path: Path) -> None:
    async with served(tmp_path) as server, aiohttp.ClientSession() as http:
        root = base(server)
        for path in ("/static/nope.js", "/static/..%2Fapp.py", "/static/%2e%2e%2fsecurity.py"):
            async with http.get(f"{root}{path}") as response:
                assert response.status == 404, path
        for name in ("style.css", "script_ui.js", "document.js", "diagnostics.js"):
            async with http.get(f"{root}/static/{name}") as response:
                assert response.status == 200, name


async def test_the_icon_is_served_without_a_token(tmp_path: Path) -> None:
    """Browsers ask for ``/favicon.ico`` on every page (the 403 page too): it was a 404,
    logged as an error in the page's console."""
    async with served(tmp_path) as server, aiohttp.ClientSession() as http:
        for path in ("/favicon.ico", "/static/favicon.svg"):
            async with http.get(f"{base(server)}{path}") as response:
                assert response.status == 200, path
                assert response.content_type == "image/svg+xml"
                assert (await response.text()).startswith("<svg")
