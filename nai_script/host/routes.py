"""The api.v1 routing table: every namespace's routes in one map, so a call's path finds its
handler in one lookup and a name claimed by two namespaces fails at import, not at call time.
"""

from __future__ import annotations

from nai_script.host.api import (
    basics,
    budget,
    document_api,
    document_history,
    editor_api,
    generate,
    hooks,
    image,
    messaging,
    page_io,
    rollover,
    signals,
    storages,
    story_api,
    timers,
    tokens,
    ui,
)
from nai_script.host.dispatch import Route, routes_from

ROUTES: dict[str, Route] = routes_from(
    basics.ROUTES,
    budget.ROUTES,
    generate.ROUTES,
    hooks.ROUTES,
    image.ROUTES,
    messaging.ROUTES,
    page_io.ROUTES,
    rollover.ROUTES,
    signals.ROUTES,
    storages.ROUTES,
    timers.ROUTES,
    tokens.ROUTES,
    ui.ROUTES,
    editor_api.ROUTES,
    document_api.ROUTES,
    document_history.ROUTES,
    story_api.ROUTES,
)
