"""SPEC 5 wants a documented table of ``maxTokens``/``rolloverTokens`` per model and tier; the
numbers lived only in code. docs/api.md now has it, and this keeps it true: a real script
asks a real host at each tier."""

from __future__ import annotations

import re
from pathlib import Path

from host_helpers import hosted

from nai_script.tokenizers.models import MODELS

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(r"^\| `([\w.-]+)` \|(.*)\|$")


def documented() -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match and match.group(1) in MODELS:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


async def test_documented_model_table_is_what_scripts_get_at_each_tier(tmp_path: Path) -> None:
    table = documented()
    assert sorted(table) == sorted(MODELS)
    source = (
        f"for m in {sorted(MODELS)!r}:\n"
        "    try:\n"
        "        api.v1.log(m, await api.v1.maxTokens(m), '+', await api.v1.rolloverTokens(m))\n"
        "    except ValueError:\n"
        "        api.v1.log(m, '-')\n"
    )
    for tier in range(4):
        (tmp_path / str(tier)).mkdir()
        async with hosted(tmp_path / str(tier), tier=tier) as env:
            await env.run(source)
            got = dict(line.split(" ", 1) for line in env.lines())
        assert got == {model: cells[tier] for model, cells in table.items()}, tier
