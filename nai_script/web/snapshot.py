"""The ``state`` message a page gets on connect (and after a ``bus.dropped`` gap): everything
it shows, so the page never has to replay history to draw itself."""

from __future__ import annotations

from typing import Any

from nai_script.web.services import WebServices


def _part_snapshot(service: Any) -> Any:
    """A service's own page snapshot (``snapshot()``), or None when it is not composed."""
    if service is None:
        return None
    snapshot = getattr(service, "snapshot", None)
    return snapshot() if callable(snapshot) else None


def build_state(services: WebServices) -> dict[str, Any]:
    return {
        "type": "state",
        "story": _part_snapshot(services.editor),
        "scripts": [state.model_dump(mode="json") for state in services.roster.states()],
        "ui": _part_snapshot(services.ui),
        "permissions": _part_snapshot(services.permissions),
        "diagnostics": services.diagnostics(),
    }
