"""createEntry/createCategory refuse an id already in use (an update goes through update*),
and story.title/description set like the other text settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_api_editor import ran_with_all_edits


@pytest.mark.parametrize("kind", ["Entry", "Category"])
async def test_create_refuses_an_existing_id(tmp_path: Path, kind: str) -> None:
    field = kind.lower()
    body = (
        f"made = await api.v1.lorebook.create{kind}({{'id': 'x1'}})\n"
        "try:\n"
        f"    await api.v1.lorebook.create{kind}({{'id': 'x1'}})\n"
        "    api.v1.log('created twice')\n"
        "except ValueError as e:\n"
        "    api.v1.log(str(e))\n"
        f"items = await api.v1.lorebook.{'entries' if kind == 'Entry' else 'categories'}()\n"
        "api.v1.log(made, len(items))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, _):
        assert env.lines() == [
            f"lorebook.create{kind} {field}.id: lorebook {field} 'x1' already exists (use update{kind})",
            "x1 1",
        ], env.lines(level="error")


async def test_story_title_and_description_refuse_a_non_string(tmp_path: Path) -> None:
    body = (
        "await api.v1.story.description.set('About.')\n"
        "api.v1.log(await api.v1.story.description.get())\n"
        "for call in (api.v1.story.title.set, api.v1.story.description.set):\n"
        "    try:\n        await call(5)\n"
        "    except ValueError as e:\n        api.v1.log(str(e))\n"
    )
    async with ran_with_all_edits(tmp_path, body) as (env, editor):
        assert env.lines() == [
            "About.",
            "story.title.set title: must be a string, got int",
            "story.description.set description: must be a string, got int",
        ], env.lines(level="error")
        assert (await editor.settings()).title == "Untitled"
