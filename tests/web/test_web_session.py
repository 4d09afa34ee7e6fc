"""The page's WebSocket protocol against a real server: the state snapshot, the scripts list
(error with file:line, hot reload keeping the old version, disable/enable), command errors,
diagnostics and forwarded events."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from web_helpers import page_socket, served

GOOD = 'api.v1.log("loaded v1")\n'
BROKEN = "x = 1\ndef f(:\n"


def _state_of(event: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in event["scripts"] if Path(s["path"]).name == name)


async def test_state_lists_scripts_with_their_state_and_error_line(tmp_path: Path) -> None:
    scripts = {"a_good.py": GOOD, "b_broken.py": BROKEN, "c_raises.py": 'raise ValueError("boom")'}
    async with served(tmp_path, scripts) as server, page_socket(server) as page:
        state = await page.next()
        assert state["type"] == "state"
        assert state["backend"].startswith("SIMULATOR")  # labelled wherever it shows
        assert [Path(s["path"]).name for s in state["scripts"]] == sorted(scripts)
        assert _state_of(state, "a_good.py")["state"] == "running"
        broken = _state_of(state, "b_broken.py")
        assert broken["state"] == "error"
        assert broken["error"].startswith(f"{tmp_path / 'scripts' / 'b_broken.py'}:2:")
        raised = _state_of(state, "c_raises.py")
        assert raised["state"] == "error"
        assert "c_raises.py:1" in raised["error"]
        assert "boom" in raised["error"]
        assert [d["name"] for d in state["diagnostics"]] == ["a_good"]


async def test_a_broken_save_keeps_the_old_version_running(tmp_path: Path) -> None:
    async with (
        served(tmp_path, {"s.py": GOOD}, force_polling=False) as server,
        page_socket(server) as page,
    ):
        await page.next()
        path = tmp_path / "scripts" / "s.py"
        path.write_text(BROKEN)
        event = await page.wait_type("script.state")
        assert event["state"] == "running"  # the old version
        assert event["error"].startswith(f"{path}:2:")
        assert server.host is not None
        old = server.host.scripts[0]
        assert old.worker is not None
        assert old.worker.exit_reason is None
        path.write_text('api.v1.log("loaded v2")\n')
        log = await page.wait_type("script.log")
        assert log == {"type": "script.log", "id": "s", "level": "log", "text": "loaded v2"}
        fixed = await page.wait_type("script.state")
        assert fixed["state"] == "running"
        assert fixed["error"] is None


async def test_disable_enable_reload_and_config(tmp_path: Path) -> None:
    source = (
        '"""\n---\nname: Configured\nid: cfg\nconfig:\n  - name: greeting\n'
        '    type: string\n    default: hi\n---\n"""\n'
        'api.v1.log(await api.v1.config.get("greeting"))\n'
    )
    async with served(tmp_path, {"cfg.py": source}) as server, page_socket(server) as page:
        state = await page.next()
        row = _state_of(state, "cfg.py")
        assert row["id"] == "cfg"
        assert row["config"][0]["value"] == "hi"
        await page.send({"type": "script.disable", "id": "cfg"})
        event = await page.wait_type("script.state")
        assert event["state"] == "disabled"
        assert server.host is not None
        assert server.host.scripts == []
        await page.send({"type": "script.enable", "id": "cfg"})
        await page.wait_for(lambda e: e["type"] == "script.log" and e["text"] == "hi")
        event = await page.wait_type("script.state")
        assert event["state"] == "running"
        await page.send({"type": "script.config", "id": "cfg", "values": {"greeting": "yo"}})
        await page.wait_for(lambda e: e["type"] == "script.log" and e["text"] == "yo")
        await page.send({"type": "script.config", "id": "cfg", "values": {"nope": 1}})
        error = await page.wait_type("error")
        assert "'nope'" in error["message"]
        assert error["command"] == "script.config"
        await page.send({"type": "script.reload", "id": "cfg"})
        await page.wait_for(lambda e: e["type"] == "script.log" and e["text"] == "yo")


async def test_bad_commands_are_answered_with_errors_naming_the_problem(tmp_path: Path) -> None:
    async with served(tmp_path) as server, page_socket(server) as page:
        await page.next()
        await page.ws.send_str("{not json")
        assert "not JSON" in (await page.next())["message"]
        await page.send({"type": "fly"})
        assert (await page.next())["message"] == "unknown command type 'fly'"
        await page.send({"type": "script.reload"})
        assert (await page.next())["message"] == "script.reload: id: Field required"
        await page.send({"type": "script.reload", "id": "ghost"})
        assert (await page.next())["message"] == "no script 'ghost'"
        await page.send({"type": "permission.answer", "id": "x", "granted": "maybe"})
        assert "granted" in (await page.next())["message"]
        await page.send(["send"])  # type: ignore[arg-type]
        assert "JSON object" in (await page.next())["message"]
        # The socket still works after all of that.
        await page.send({"type": "diagnostics.get"})
        assert (await page.next()) == {"type": "diagnostics", "scripts": []}


async def test_events_reach_every_page_and_a_lagging_page_gets_a_fresh_state(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path, {"s.py": GOOD}) as server,
        page_socket(server) as one,
        page_socket(server) as two,
    ):
        await one.next()
        await two.next()
        server.bus.publish({"type": "toast", "message": "hello"})
        assert (await one.next()) == {"type": "toast", "message": "hello"}
        assert (await two.next()) == {"type": "toast", "message": "hello"}
        diagnostics_task = asyncio.create_task(one.next())
        await one.send({"type": "diagnostics.get"})
        reply = await diagnostics_task
        assert reply["type"] == "diagnostics"
        assert reply["scripts"][0]["script_id"] == "s"
        worker = reply["scripts"][0]["worker"]
        assert worker["alive"]
        assert worker["pid"] > 0
        async with page_socket(server) as slow:
            await slow.next()
            for index in range(server.bus.queue_size + 50):
                server.bus.publish({"type": "toast", "message": str(index)})
            # Whatever the socket already took, the gap ends in a full redraw.
            await slow.wait_type("state")


async def test_a_page_gets_its_snapshot_before_any_event(tmp_path: Path) -> None:
    """Events published while a page's snapshot is being built are sent after it: one sent
    before reached the page first, and the older snapshot then undid it (a reloaded script's
    new UI replaced by the snapshot's none)."""
    async with served(tmp_path, {"s.py": GOOD}) as server:
        publishing = True

        async def publish() -> None:
            count = 0
            while publishing:
                server.bus.publish({"type": "toast", "message": str(count)})
                count += 1
                await asyncio.sleep(0)

        publisher = asyncio.create_task(publish())
        try:
            for _ in range(20):
                async with page_socket(server) as page:
                    first = await page.next()
                    assert first["type"] == "state", first
        finally:
            publishing = False
            await publisher
