"""Lorebook key activation: which entries the recent story text brings into the context.

A plain key matches case-insensitively anywhere in the searched text; a key written
``/pattern/flags`` is a regular expression (flags ``i``, ``m``, ``s``, ``x``; NovelAI keys are
JS-style, Python's syntax covers the common ones). Only the last ``search_range_chars``
characters are searched, as NovelAI does. ``forceActivation`` entries are always active;
disabled entries, and entries of a disabled category, never are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from nai_script.editor.models import LorebookCategory, LorebookEntry

DEFAULT_SEARCH_RANGE_CHARS = 1000
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_REGEX_KEY = re.compile(r"^/(?P<pattern>.+)/(?P<flags>[a-z]*)$", re.DOTALL)


class LorebookKeyError(ValueError):
    """A ``/regex/`` key that does not compile, or has an unknown flag (the key is named)."""


@dataclass(frozen=True)
class KeyMatcher:
    key: str
    regex: re.Pattern[str] | None  # None: a plain key

    def matches(self, text: str, folded: str) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        return self.key.casefold() in folded


@lru_cache(maxsize=1024)
def compile_key(key: str) -> KeyMatcher:
    """Parse one key; a bad ``/regex/`` raises LorebookKeyError naming the key and why."""
    found = _REGEX_KEY.match(key)
    if found is None:
        return KeyMatcher(key, None)
    flags = 0
    for flag in found["flags"]:
        if flag not in _FLAGS:
            raise LorebookKeyError(f"lorebook key {key!r}: unknown regex flag {flag!r}")
        flags |= _FLAGS[flag]
    try:
        return KeyMatcher(key, re.compile(found["pattern"], flags))
    except re.error as exc:
        raise LorebookKeyError(f"lorebook key {key!r}: bad regex: {exc}") from None


def key_errors(entry: LorebookEntry) -> list[str]:
    """Every problem with the entry's keys (for the page to show next to the entry)."""
    errors: list[str] = []
    for key in entry.keys:
        try:
            compile_key(key)
        except LorebookKeyError as exc:
            errors.append(str(exc))
    return errors


def matching_key(entry: LorebookEntry, text: str) -> str | None:
    """The first of the entry's keys found in ``text``; bad keys never match."""
    folded = text.casefold()
    for key in entry.keys:
        if not key:
            continue
        try:
            matcher = compile_key(key)
        except LorebookKeyError:
            continue
        if matcher.matches(text, folded):
            return key
    return None


def active_entries(
    entries: Iterable[LorebookEntry],
    recent_text: str,
    search_range_chars: int = DEFAULT_SEARCH_RANGE_CHARS,
    *,
    categories: Iterable[LorebookCategory] = (),
) -> list[LorebookEntry]:
    """The entries active for ``recent_text``, in their given order."""
    if search_range_chars < 0:
        raise ValueError(f"search_range_chars must be >= 0, got {search_range_chars}")
    disabled = {c.id for c in categories if not c.enabled}
    window = recent_text[-search_range_chars:] if search_range_chars else ""
    active: list[LorebookEntry] = []
    for entry in entries:
        if not entry.enabled or (entry.category is not None and entry.category in disabled):
            continue
        if entry.forceActivation or matching_key(entry, window) is not None:
            active.append(entry)
    return active
