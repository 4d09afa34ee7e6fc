"""Shared set-up for host tests: a real simulator over loopback, a real client, a real host
with SQLite files in a tmp dir, and real sandboxed workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.editor.events import Subscription
from nai_script.editor.ui_state import UiState
from nai_script.host.host import ScriptHost
from nai_script.host.script import LoadedScript
from nai_script.sim import SimServer, SimSettings
from nai_script.tokenizers import TokenizerRegistry

REGISTRY = TokenizerRegistry(backend="sim")
CHAT = "[{'role': 'user', 'content': 'Hello there'}]"
#: Logs ``label kind message`` for a call that raises (or ``label -> value``); the kind
#: (``ValueError``, ``ApiError``...) is read off the repr.
TRY = (
    "def t(label, f):\n"
    "    try:\n"
    "        api.v1.log(label, '->', f())\n"
    "    except ValueError as e:\n"
    "        api.v1.log(label, 'ValueError', str(e))\n"
    "    except Exception as e:\n"
    "        api.v1.log(label, repr(e).split('(')[0], str(e))\n"
    "async def ta(label, f):\n"
    "    try:\n"
    "        api.v1.log(label, '->', await f())\n"
    "    except ValueError as e:\n"
    "        api.v1.log(label, 'ValueError', str(e))\n"
    "    except Exception as e:\n"
    "        api.v1.log(label, repr(e).split('(')[0], str(e))\n"
)


@dataclass
class Env:
    host: ScriptHost
    sim: SimServer
    folder: Path
    logs: list[tuple[str, str, str]] = field(default_factory=list)

    def lines(self, script_id: str | None = None, level: str = "log") -> list[str]:
        return [t for s, lv, t in self.logs if lv == level and script_id in (None, s)]

    async def load(self, source: str, name: str = "t.py") -> LoadedScript:
        path = self.folder / name
        path.write_text(source)
        return await self.host.load_script(path)

    async def run(self, source: str, name: str = "t.py") -> LoadedScript:
        script = await self.load(source, name)
        await self.host.wait_idle(script)
        return script


def drain(sub: Subscription, kind: str | None = None) -> list[dict[str, Any]]:
    """The events published so far (only those of type ``kind`` when given)."""
    events = []
    while (event := sub.get_nowait()) is not None:
        if kind is None or event["type"] == kind:
            events.append(event)
    return events


async def run_ui_event(
    state: UiState,
    script_id: str,
    target_id: str,
    part_id: str | None,
    event: str,
    value: Any = None,
) -> bool:
    """A page event that must start a callback: waits for it and returns whether it ran clean."""
    task = await state.handle_ui_event(script_id, target_id, part_id, event, value)
    assert task is not None
    return await asyncio.wait_for(task, 10)


def client_for(sim: SimServer) -> NovelAIClient:
    url = sim.base_url
    return NovelAIClient(ClientSettings(text_url=url, api_url=url, image_url=url, token="pst-t"))


@asynccontextmanager
async def hosted(
    tmp_path: Path,
    sim_settings: SimSettings | None = None,
    *,
    sim: SimServer | None = None,
    **host_kwargs: Any,
) -> AsyncIterator[Env]:
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    if sim is None:
        async with (
            SimServer(sim_settings or SimSettings()) as own,
            hosted_on(own, tmp_path, folder, **host_kwargs) as env,
        ):
            yield env
    else:
        async with hosted_on(sim, tmp_path, folder, **host_kwargs) as env:
            yield env


@asynccontextmanager
async def hosted_on(sim: SimServer, tmp_path: Path, folder: Path, **kw: Any) -> AsyncIterator[Env]:
    async with client_for(sim) as client:
        logs: list[tuple[str, str, str]] = []
        host = ScriptHost(
            client=client,
            tokenizers=REGISTRY,
            data_dir=tmp_path / "data",
            on_log=lambda script, level, text: logs.append((script.id, level, text)),
            **kw,
        )
        async with host:
            yield Env(host, sim, folder, logs)
