"""The ``state`` message a page gets on connect (and after a ``bus.dropped`` gap): everything
it shows, so the page never has to replay history to draw itself."""

from __future__ import annotations

from typing import Any

from nai_script.web.services import WebServices


async def build_state(services: WebServices) -> dict[str, Any]:
    permissions = services.permissions
    editor = services.editor
    pages = services.page_requests
    return {
        "type": "state",
        "backend": services.backend_label,
        "story": None if editor is None else await editor.snapshot(),
        # A page opened (or reconnected) mid-generation: Send greyed out, Stop shown.
        "blocked": None if editor is None else editor.blocking_reason(),
        "generating": editor is not None and editor.generating,
        "scripts": [state.model_dump(mode="json") for state in services.roster.states()],
        "ui": None if services.ui is None else services.ui.snapshot(),
        "permissions": [] if permissions is None else permissions.pending(),
        "pageRequests": [] if pages is None else pages.pending(),
        "diagnostics": services.diagnostics(),
    }
