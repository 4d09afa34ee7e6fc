"""``lorebook.select`` from the page fires the scripts' ``onLorebookEntrySelected`` with only
the selected key (NovelAI's ``{entryId?, categoryId?}``); before, nothing on the page could
select an entry, so the hook never fired. Nothing selected asks no script; a bad id is
refused naming the field."""

from __future__ import annotations

from pathlib import Path

from web_helpers import page_socket, script_logs, served

SEEN = "api.v1.hooks.register('onLorebookEntrySelected', lambda p: api.v1.log(p))\n"


async def test_selecting_fires_the_hook_with_the_selected_key(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "lorebook.select", "entryId": "entry-1"})
        await page.wait_type("script.log")
        await page.send({"type": "lorebook.select"})  # nothing selected: no script is asked
        await page.send({"type": "lorebook.select", "categoryId": "cat-1"})
        await page.wait_for(lambda e: e["type"] == "script.log" and "cat-1" in e["text"])
        assert script_logs(page.seen, "seen") == [{"entryId": "entry-1"}, {"categoryId": "cat-1"}]


async def test_a_bad_id_is_refused_naming_the_field(tmp_path: Path) -> None:
    async with served(tmp_path, {"seen.py": SEEN}) as server, page_socket(server) as page:
        await page.next()
        await page.send({"type": "lorebook.select", "entryId": 3})
        error = await page.wait_type("error")
        assert error["message"].startswith("lorebook.select: entryId: "), error
        await page.send({"type": "lorebook.select", "entryId": "ok"})  # then a good one
        await page.wait_for(lambda e: e["type"] == "script.log" and "ok" in e["text"])
        assert script_logs(page.seen, "seen") == [{"entryId": "ok"}]  # only the good one ran
