"""Everything a page session talks to, gathered in one object the app is built with.

The editor, the script UI state, the permission prompts and the page requests are optional so the app can be
served (and tested) with the host alone; a page command that needs a missing one is answered
with an error naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nai_script.editor.events import EventBus
from nai_script.editor.page_requests import PageRequests
from nai_script.editor.permissions import PagePermissions
from nai_script.editor.pipeline import Editor
from nai_script.editor.ui_state import UiState
from nai_script.host.host import ScriptHost
from nai_script.web.roster import ScriptRoster


class MissingService(RuntimeError):
    """A page command needs a part ``serve`` did not compose."""


@dataclass
class WebServices:
    host: ScriptHost
    bus: EventBus
    roster: ScriptRoster
    editor: Editor | None = None
    ui: UiState | None = None
    permissions: PagePermissions | None = None
    #: clipboard.writeText, file.save and file.prompt, done by the page.
    page_requests: PageRequests | None = None
    # Shown in the page's top bar, so a simulated backend is always labelled as such.
    backend_label: str = ""

    def need(self, name: str) -> Any:
        service = getattr(self, name)
        if service is None:
            raise MissingService(f"this command needs the {name}, which is not running")
        return service

    def diagnostics(self) -> list[dict[str, Any]]:
        """Per running script: the host's diagnostics plus what the editor adds (calls of
        ``editor.generate`` left before the next interaction)."""
        report = []
        for script in self.host.scripts:
            entry = self.host.script_diagnostics(script).model_dump(mode="json")
            if self.editor is not None:
                entry["editor_generate_left"] = self.editor.gate.remaining(script.id)
            report.append(entry)
        return report
