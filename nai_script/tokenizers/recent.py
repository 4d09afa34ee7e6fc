"""The token ids of the texts tokenized last, so the same text is tokenized once.

A script counts a prompt (``countUncachedInputTokens``) and then sends it (``generate``), a
chat resends its history, a rollover helper re-reads what it holds: the second encode of the
same text by the same tokenizer becomes a lookup (a 40,000-token prompt costs the tokenizer
~45 ms). Ids are kept as 4-byte arrays, so the budget (``max_chars`` of text, ``max_entries``
texts, least recently used out first) also bounds their memory: about 5 bytes per character
kept, the texts included.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict

from nai_script.tokenizers.base import Tokenizer

#: The defaults: a megabyte of text is the most one api call may tokenize, so four of them fit.
MAX_CHARS = 4 << 20
MAX_ENTRIES = 64


class RecentEncodings:
    """An LRU of ``(tokenizer, text) -> ids``; safe to share between threads."""

    def __init__(self, max_chars: int = MAX_CHARS, max_entries: int = MAX_ENTRIES) -> None:
        if max_chars < 0 or max_entries < 0:
            raise ValueError("max_chars and max_entries must be >= 0")
        self.max_chars = max_chars
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Tokenizer, str], array[int]] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, tokenizer: Tokenizer, text: str) -> list[int] | None:
        """The ids ``tokenizer`` gave ``text`` lately (a new list each time), or ``None``."""
        key = (tokenizer, text)
        with self._lock:
            ids = self._entries.get(key)
            if ids is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
        return ids.tolist()

    def put(self, tokenizer: Tokenizer, text: str, ids: list[int]) -> None:
        """Remember ``ids`` for ``text``; a text longer than the whole budget is not kept."""
        if len(text) > self.max_chars or self.max_entries == 0:
            return
        packed = array("I", ids)
        key = (tokenizer, text)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return
            self._entries[key] = packed
            self._chars += len(text)
            while self._chars > self.max_chars or len(self._entries) > self.max_entries:
                (_, old_text), _ = self._entries.popitem(last=False)
                self._chars -= len(old_text)

    def encode(self, tokenizer: Tokenizer, text: str) -> list[int]:
        """``tokenizer.encode(text)``, or the ids it gave ``text`` lately."""
        ids = self.get(tokenizer, text)
        if ids is None:
            ids = tokenizer.encode(text)
            self.put(tokenizer, text, ids)
        return ids

    def __len__(self) -> int:
        return len(self._entries)
