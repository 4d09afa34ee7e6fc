"""api.v1.ui's ``lorebookPanel`` extension from real sandboxed scripts: validation naming the
field, the helper, register/update/remove, and a panel filled by ``onLorebookEntrySelected``."""

from __future__ import annotations

from pathlib import Path

import pytest
from host_helpers import drain, run_ui_event
from test_api_ui import assert_refused, script, with_page


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            "api.v1.ui.register([{'type': 'lorebookPanel', 'content': []}])",
            "ui.register extensions[0].name: Field required",
        ),
        (
            "api.v1.ui.register([{'type': 'lorebookPanel', 'name': 'L'}])",
            "ui.register extensions[0].content: Field required",
        ),
        (
            "api.v1.ui.extension.lorebookPanel({'name': 'L'})",
            "ui.extension.lorebookPanel.content: Field required",
        ),
        (
            "api.v1.ui.extension.lorebookPanel({'content': []})",
            "ui.extension.lorebookPanel.name: Field required",
        ),
        (
            "api.v1.ui.register([{'type': 'lorebookPanel', 'name': 'L', 'content': ["
            "{'type': 'slider'}]}])",
            "ui.register extensions[0].content[0]: unknown type 'slider'",
        ),
    ],
)
async def test_bad_lorebook_panels_fail_naming_the_field(
    tmp_path: Path, call: str, expected: str
) -> None:
    await assert_refused(tmp_path, call, expected)


LOREBOOK_PANEL = """
def clicked():
    api.v1.log('clicked')

async def selected(params):
    api.v1.log('selected ' + repr(sorted(params.items())))
    text = params.get('entryId') or params.get('categoryId')
    await api.v1.ui.updateParts([{'id': 'which', 'text': 'Selected: ' + text}])

panel = api.v1.ui.extension.lorebookPanel({'id': 'lore', 'name': 'Lore tools', 'content': [
    {'type': 'text', 'id': 'which', 'text': 'nothing yet'},
    {'type': 'button', 'id': 'go', 'text': 'Go', 'callback': clicked},
]})
api.v1.log(panel['type'])
await api.v1.ui.register([panel])
api.v1.hooks.register('onLorebookEntrySelected', selected)
"""


async def test_lorebook_panel_registers_updates_and_is_removed(tmp_path: Path) -> None:
    async with with_page(tmp_path) as (env, state, sub):
        await env.run(script(LOREBOOK_PANEL))
        assert env.lines("uitest") == ["lorebookPanel"]
        [event] = drain(sub, "ui.extensions")
        [panel] = event["extensions"]
        assert (panel["type"], panel["id"], panel["name"]) == (
            "lorebookPanel",
            "lore",
            "Lore tools",
        )

        await env.host.fire_hook("onLorebookEntrySelected", {"entryId": "e1"})
        [panel] = state.extensions_of("uitest")
        assert panel["content"][0]["text"] == "Selected: e1"
        assert await run_ui_event(state, "uitest", "lore", "go", "callback") is True
        assert env.lines("uitest")[1:] == ["selected [('entryId', 'e1')]", "clicked"]

        drain(sub)
        await env.run(
            script(
                "await api.v1.ui.register([api.v1.ui.extension.lorebookPanel("
                "{'id': 'lore', 'name': 'L', 'content': []})])\n"
                "await api.v1.ui.update([{'id': 'lore', 'name': 'Renamed'}])\n"
                "await api.v1.ui.remove(['lore'])\n",
                "other",
            ),
            "other.py",
        )
        published = [e["extensions"] for e in drain(sub, "ui.extensions")]
        assert [[e["name"] for e in exts] for exts in published] == [["L"], ["Renamed"], []]
        assert state.extensions_of("other") == []
