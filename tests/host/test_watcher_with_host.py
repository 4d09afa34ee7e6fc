"""The watcher driving the real ScriptHost: real workers, real compile errors, real folder."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pytest

from nai_script.backend import open_backend
from nai_script.config import resolve_backend
from nai_script.host.host import ScriptHost
from nai_script.host.script import LoadedScript
from nai_script.host.watcher import ReloadOutcome, ScriptFolderWatcher

WAIT = 20.0  # worker start-up on a loaded machine


class LogLines:
    """Collects ``api.v1.log`` lines and lets a test wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, _script: LoadedScript, _level: Literal["log", "error"], text: str) -> None:
        self.lines.append(text)
        self._changed.set()

    async def wait_for(self, text: str) -> None:
        async def seen() -> None:
            while text not in self.lines:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(seen(), WAIT)


class Outcomes(list[ReloadOutcome]):
    def __init__(self) -> None:
        super().__init__()
        self.changed = asyncio.Event()

    def __call__(self, outcome: ReloadOutcome) -> None:
        self.append(outcome)
        self.changed.set()

    async def wait_count(self, count: int) -> None:
        async def reached() -> None:
            while len(self) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), WAIT)


@pytest.fixture
async def host(tmp_path: Path) -> AsyncIterator[tuple[ScriptHost, LogLines]]:
    logs = LogLines()
    async with open_backend(resolve_backend(env={})) as backend:
        host = ScriptHost(
            client=backend.client,
            tokenizers=backend.tokenizers,
            data_dir=tmp_path / "data",
            on_log=logs,
        )
        async with host:
            yield host, logs


async def test_saves_reload_the_real_host_and_a_broken_save_keeps_the_old_version(
    tmp_path: Path, host: tuple[ScriptHost, LogLines]
) -> None:
    script_host, logs = host
    folder = tmp_path / "scripts"
    folder.mkdir()
    script = folder / "greeter.py"
    script.write_text('api.v1.log("version 1")\n')
    outcomes = Outcomes()
    async with ScriptFolderWatcher(folder, script_host, debounce_ms=60, on_outcome=outcomes):
        await logs.wait_for("version 1")
        assert [s.path.name for s in script_host.scripts] == ["greeter.py"]

        temp = folder / "greeter.py.tmp"  # save by rename, as editors do
        temp.write_text('api.v1.log("version 2")\n')
        temp.replace(script)
        await logs.wait_for("version 2")
        assert script_host.scripts[0].source == 'api.v1.log("version 2")\n'

        script.write_text('import os\napi.v1.log("never")\n')
        await outcomes.wait_count(3)
        failed = outcomes[-1]
        assert not failed.ok
        assert failed.action == "reload"
        assert failed.error is not None
        assert f"{script.resolve()}:1:1: `import os` is not allowed" in failed.error
        assert script_host.scripts[0].source == 'api.v1.log("version 2")\n'  # still serving

        script.unlink()
        await outcomes.wait_count(4)
        assert outcomes[-1].action == "unload"
        assert script_host.scripts == []
    assert "never" not in logs.lines


async def test_a_file_whose_name_is_not_utf8_is_skipped_and_watching_goes_on(
    tmp_path: Path, host: tuple[ScriptHost, LogLines]
) -> None:
    """Such a file could not load (a script's id comes from its name), and with it in the
    folder the watcher stopped for every script ("unhandled errors in a TaskGroup")."""
    script_host, logs = host
    folder = tmp_path / "scripts"
    folder.mkdir()
    bad = Path(os.fsdecode(os.path.join(os.fsencode(folder), b"bad\xff.py")))
    bad.write_text('api.v1.log("bad")\n')
    (folder / "first.py").write_text('api.v1.log("first")\n')
    outcomes = Outcomes()
    async with ScriptFolderWatcher(folder, script_host, debounce_ms=60, on_outcome=outcomes):
        await logs.wait_for("first")
        bad.write_text('api.v1.log("bad again")\n')
        (folder / "second.py").write_text('api.v1.log("second")\n')
        await logs.wait_for("second")
        assert sorted(s.path.name for s in script_host.scripts) == ["first.py", "second.py"]
        assert all(outcome.ok for outcome in outcomes)
    assert "bad" not in logs.lines
