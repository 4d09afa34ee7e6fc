"""The ``state`` message a page gets on connect (and after a ``bus.dropped`` gap): everything
it shows, so the page never has to replay history to draw itself."""

from __future__ import annotations

from typing import Any

from nai_script.web.services import WebServices


async def build_state(services: WebServices) -> dict[str, Any]:
    permissions = services.permissions
    return {
        "type": "state",
        "backend": services.backend_label,
        "story": None if services.editor is None else await services.editor.snapshot(),
        "scripts": [state.model_dump(mode="json") for state in services.roster.states()],
        "ui": None if services.ui is None else services.ui.snapshot(),
        "permissions": [] if permissions is None else permissions.pending(),
        "diagnostics": services.diagnostics(),
    }
