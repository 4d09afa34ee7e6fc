"""The api docs cover the whole api.v1 surface: ``docs/api.md``'s table names every top-level
api.v1 name in ``surface.FUNCTIONS`` (and nothing else) with the section that documents it,
``docs/editor_api.md`` names the editor's namespaces, and every function's name appears."""

from __future__ import annotations

import re
from pathlib import Path

from nai_script.host.api import document_api, editor_api, story_api
from nai_script.host.surface import FUNCTIONS, function_paths

DOCS = Path(__file__).resolve().parents[2] / "docs"
API = (DOCS / "api.md").read_text()
EDITOR = (DOCS / "editor_api.md").read_text()
NAME = re.compile(r"`([A-Za-z]+)`")


def _table() -> dict[str, str]:
    """api.md's namespace table: api.v1 name -> where it is documented."""
    rows: dict[str, str] = {}
    lines = API.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| api.v1 name"))
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        names, where = (cell.strip() for cell in line.strip("|").split("|"))
        for name in NAME.findall(names):
            assert name not in rows, f"api.md table lists {name!r} twice"
            rows[name] = where
    return rows


def test_the_api_table_lists_exactly_the_surface() -> None:
    table = _table()
    assert sorted(set(FUNCTIONS) - set(table)) == [], "api.v1 names missing from api.md's table"
    assert sorted(set(table) - set(FUNCTIONS)) == [], "api.md's table names unknown api.v1 names"


def test_every_section_the_table_points_at_exists() -> None:
    headings = [line.removeprefix("## ") for line in API.splitlines() if line.startswith("## ")]
    for name, where in _table().items():
        for place in (part.strip() for part in where.split(";")):
            if "editor_api.md" in place:
                continue
            assert any(h.startswith(place) for h in headings), f"{name}: no section {place!r}"


def test_editor_namespaces_are_documented_in_editor_api_md() -> None:
    line = next(ln for ln in EDITOR.split("\n\n") if ln.startswith("Namespaces documented here"))
    listed = set(NAME.findall(line))
    assert listed <= set(FUNCTIONS)
    editor_only = {*editor_api.FUNCTIONS, *document_api.FUNCTIONS, *story_api.FUNCTIONS}
    assert listed == editor_only, "editor_api.md should name exactly the editor's namespaces"
    table = _table()
    for name in listed:
        assert "editor_api.md" in table[name], f"api.md's table should send {name!r} there"
        assert f"`{name}" in EDITOR.split("## api.v1", 1)[1], f"{name!r} has no entry"
    assert "[editor_api.md](editor_api.md)" in API
    assert "[api.md](api.md)" in EDITOR


def test_every_function_name_appears_in_the_docs() -> None:
    docs = API + EDITOR
    missing = [
        path
        for path in function_paths()
        if not re.search(rf"\b{re.escape(path.rsplit('.', 1)[1])}\b", docs)
    ]
    assert missing == []
