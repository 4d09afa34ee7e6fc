"""Lorebook key activation: plain and /regex/ keys, range, force, disabled entries/categories."""

from __future__ import annotations

import pytest

from nai_script.editor.lorebook import (
    LorebookKeyError,
    active_entries,
    compile_key,
    key_errors,
    matching_key,
)
from nai_script.editor.models import LorebookCategory, LorebookEntry


def entry(*keys: str, **extra: object) -> LorebookEntry:
    return LorebookEntry.model_validate({"keys": list(keys), **extra})


def names(entries: list[LorebookEntry]) -> list[str]:
    return [e.displayName for e in entries]


def test_plain_keys_are_case_insensitive_substrings() -> None:
    assert matching_key(entry("Dragon"), "a DRAGONfly") == "Dragon"
    assert matching_key(entry("dragon"), "a wyvern") is None
    assert matching_key(entry("", "straße"), "STRASSE") == "straße"  # casefold, empty key skipped


def test_regex_keys_and_flags() -> None:
    assert matching_key(entry(r"/\bcat\b/"), "the cat sat") == r"/\bcat\b/"
    assert matching_key(entry(r"/\bcat\b/"), "concatenate") is None
    assert matching_key(entry("/CAT/"), "cat") is None  # regex keys are case-sensitive by default
    assert matching_key(entry("/CAT/i"), "cat") == "/CAT/i"
    with pytest.raises(LorebookKeyError, match="unknown regex flag 'b'"):
        compile_key("/a/b")
    assert compile_key("/").regex is None  # too short to be a regex: a plain key


def test_bad_regex_never_matches_and_is_reported() -> None:
    bad = entry("/(unclosed/", "ok")
    assert matching_key(bad, "(unclosed ok") == "ok"
    assert key_errors(bad) == [
        "lorebook key '/(unclosed/': bad regex: missing ), unterminated subpattern at position 0"
    ]
    assert key_errors(entry("fine", "/fine/i")) == []


def test_only_the_search_range_is_searched() -> None:
    early = entry("castle", displayName="castle")
    text = "castle" + " filler" * 100
    assert active_entries([early], text, 50) == []
    assert names(active_entries([early], text, len(text))) == ["castle"]
    assert active_entries([early], "castle", 0) == []
    with pytest.raises(ValueError, match="search_range_chars"):
        active_entries([early], text, -1)


def test_force_disabled_and_category_rules_keep_order() -> None:
    off = LorebookCategory(id="off", enabled=False)
    on = LorebookCategory(id="on")
    entries = [
        entry("x", displayName="plain"),
        entry(displayName="forced", forceActivation=True),
        entry("x", displayName="disabled", enabled=False),
        entry("x", displayName="disabled-forced", enabled=False, forceActivation=True),
        entry("x", displayName="in-off", category="off", forceActivation=True),
        entry("x", displayName="in-on", category="on"),
        entry("y", displayName="no-match"),
    ]
    active = active_entries(entries, "x marks", 100, categories=[off, on])
    assert names(active) == ["plain", "forced", "in-on"]
