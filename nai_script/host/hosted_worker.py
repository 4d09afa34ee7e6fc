"""The glue between a script's worker and the host: its api calls go to ``handle_call``, and
the script learns its worker before the top level runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nai_script.host.script import LoadedScript
from sandbox.process import ScriptWorker
from sandbox.protocol import ApiCall

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost


class HostedWorker(ScriptWorker):
    """A worker that tells its handler about itself before the top level runs, so callbacks
    (stream callbacks, timers) can be invoked while the script is still loading."""

    def __init__(self, spawned: Any, **kwargs: Any) -> None:
        super().__init__(spawned, **kwargs)
        binder = getattr(kwargs["handler"], "bind_worker", None)
        if binder is not None:
            binder(self)


class ScriptHandler:
    """A worker's api-call handler: one script's calls, answered by its host."""

    def __init__(self, host: ScriptHost, script: LoadedScript) -> None:
        self._host = host
        self._script = script

    def bind_worker(self, worker: ScriptWorker) -> None:
        self._script.worker = worker

    async def __call__(self, call: ApiCall) -> Any:
        return await self._host.handle_call(self._script, call)
