"""An editor on a real host: simulator over loopback, real workers, real SQLite files."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

from host_helpers import REGISTRY, Env, hosted

from nai_script.editor.events import EventBus, Subscription
from nai_script.editor.pipeline import Editor
from nai_script.editor.store import StoryStore
from nai_script.sim import SimSettings


@dataclass
class EditorEnv:
    env: Env
    editor: Editor
    bus: EventBus
    events: Subscription

    def drain(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while (event := self.events.get_nowait()) is not None:
            out.append(event)
        return out


@asynccontextmanager
async def editor_env(
    tmp_path: Path, sim_settings: SimSettings | None = None, **host_kwargs: Any
) -> AsyncIterator[EditorEnv]:
    async with hosted(tmp_path, sim_settings, **host_kwargs) as env:
        bus = EventBus(queue_size=100_000)
        store = StoryStore(tmp_path / "data" / "stories.sqlite3")
        try:
            editor = Editor(store, env.host, bus, tokenizers=REGISTRY, client=env.host.client)
            env.host.editor = editor
            yield EditorEnv(env, editor, bus, bus.subscribe())
        finally:
            store.close()
