"""The rollover helper behind ``api.v1.createRolloverHelper`` (SPEC section 4).

A growing list of items (chat turns, paragraphs...) seen through a window. While the window's
total stays within ``max_tokens + rollover_tokens`` it only grows; once it exceeds that, the
oldest items are dropped until it fits in ``max_tokens``. The slack avoids re-trimming (and so
re-sending an uncached prompt) on every add: the prefix cache stays warm between trims.
Trimming is applied by ``read()``; the other views report what ``read()`` would return.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

TokenCounter = Callable[[str], Awaitable[int]]
Item = str | Mapping[str, Any]

#: What one script's helpers may hold together: the items live in the host's memory, and an
#: item that brings its own ``tokens`` is never tokenized, so nothing else bounds them.
ITEM_BYTES_PER_SCRIPT = 32 * 1024 * 1024


class RolloverFull(ValueError):
    """An add that would pass the script's ``ItemBudget`` (the script sees ``ApiError``)."""


class ItemBudget:
    """The bytes of items (as JSON) a script's rollover helpers hold, against one cap."""

    def __init__(self, cap: int = ITEM_BYTES_PER_SCRIPT) -> None:
        self.cap = cap
        self.used = 0

    def take(self, size: int) -> None:
        if self.used + size > self.cap:
            raise RolloverFull(
                f"the script's rollover helpers would hold {self.used + size:,} bytes of items,"
                f" over the {self.cap:,}-byte limit per script; compact() after read(),"
                " remove(n) or clear() give items back"
            )
        self.used += size

    def give(self, size: int) -> None:
        self.used -= size


def _give_back(budget: ItemBudget, sizes: list[int]) -> None:
    budget.give(sum(sizes))


def _size(item: Mapping[str, Any]) -> int:
    return len(json.dumps(item, ensure_ascii=False, default=str).encode(errors="surrogatepass"))


class RolloverItem(BaseModel):
    """One item as a script passes it: ``content`` plus optional ``tokens``; other keys kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    content: str
    tokens: int | None = Field(default=None, ge=0)


class RolloverConfig(BaseModel):
    """What ``getConfig()`` reports (the host maps the names to camelCase)."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int = Field(gt=0)
    rollover_tokens: int = Field(ge=0)
    model: str


class RolloverHelper:
    """A trimmed window over items, counted in tokens."""

    def __init__(
        self,
        max_tokens: int,
        rollover_tokens: int,
        model: str,
        count_tokens: TokenCounter,
        budget: ItemBudget | None = None,
    ) -> None:
        self._config = RolloverConfig(
            max_tokens=max_tokens, rollover_tokens=rollover_tokens, model=model
        )
        self._count_tokens = count_tokens
        self._items: list[dict[str, Any]] = []
        self._sizes: list[int] = []  # each item's share of ``budget``
        self._budget = budget or ItemBudget()
        # A helper the script dropped is collected (the host drops the object once the worker
        # holds no proxy for it): what its items took goes back with it.
        weakref.finalize(self, _give_back, self._budget, self._sizes)
        self._start = 0
        # Adds land in call order: a script may start ``add(long_text)`` and, without awaiting
        # it, ``add(item_with_tokens)``; the second must not overtake the first while its text
        # is tokenized (on a thread when long). The lock is FIFO and taken before any await.
        self._adding = asyncio.Lock()

    # -- adding ------------------------------------------------------------------------------

    async def add(self, items: Item | Sequence[Item]) -> None:
        """Append one item or a list; items lacking ``tokens`` are counted. All or nothing.
        A plain string is the item ``{content: string}``, as in NovelAI. Concurrent adds
        append in the order they were called."""
        async with self._adding:
            prepared = await self._prepare(items)
            sizes = [_size(item) for item in prepared]
            self._budget.take(sum(sizes))
            self._items.extend(prepared)
            self._sizes.extend(sizes)

    async def _prepare(self, items: Item | Sequence[Item]) -> list[dict[str, Any]]:
        batch = [items] if isinstance(items, Mapping | str) else list(items)
        prepared: list[dict[str, Any]] = []
        for index, raw in enumerate(batch):
            if isinstance(raw, str):
                raw = {"content": raw}
            if not isinstance(raw, Mapping):
                raise ValueError(
                    f"rollover item {index}: must be a string or an object "
                    f"{{content, tokens?}}, got {type(raw).__name__}"
                )
            try:
                item = RolloverItem.model_validate(dict(raw))
            except (ValidationError, TypeError, ValueError) as exc:
                raise ValueError(f"rollover item {index}: {_first_problem(exc)}") from None
            data = dict(raw)
            if item.tokens is None:
                counted = await self._count_tokens(item.content)
                if counted < 0:
                    raise ValueError(f"rollover item {index}: token counter returned {counted}")
                data["tokens"] = counted
            prepared.append(data)
        return prepared

    # -- views -------------------------------------------------------------------------------

    def _trimmed_start(self) -> int:
        """Where ``read()`` would start: trim only once the window exceeds max + rollover."""
        window = self._items[self._start :]
        total = sum(item["tokens"] for item in window)
        if total <= self._config.max_tokens + self._config.rollover_tokens:
            return self._start
        start = self._start
        while start < len(self._items) and total > self._config.max_tokens:
            total -= self._items[start]["tokens"]
            start += 1
        return start

    def read(self) -> list[dict[str, Any]]:
        """The window after trimming; moves its start."""
        self._start = self._trimmed_start()
        return [dict(item) for item in self._items[self._start :]]

    def peek(self) -> list[dict[str, Any]]:
        """What ``read()`` would return, without moving the start."""
        return [dict(item) for item in self._items[self._trimmed_start() :]]

    def count(self) -> int:
        return len(self._items) - self._trimmed_start()

    def total_tokens(self) -> int:
        return sum(item["tokens"] for item in self._items[self._trimmed_start() :])

    def get_all(self) -> list[dict[str, Any]]:
        """Every item, including those trimmed away, until ``compact()``."""
        return [dict(item) for item in self._items]

    def get_config(self) -> RolloverConfig:
        return self._config

    # -- removing ----------------------------------------------------------------------------

    def remove(self, n: int) -> None:
        """Drop the last ``n`` items (all of them if ``n`` is larger)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"remove(n): n must be an integer >= 0, got {n!r}")
        if n:
            self._drop(slice(-n, None))
        self._start = min(self._start, len(self._items))

    def clear(self) -> None:
        self._drop(slice(None))
        self._start = 0

    def compact(self) -> None:
        """Forget the items ``read()`` has trimmed away."""
        self._drop(slice(None, self._start))
        self._start = 0

    def _drop(self, which: slice) -> None:
        self._budget.give(sum(self._sizes[which]))
        del self._items[which]
        del self._sizes[which]


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "item"
        return f"{where}: {error['msg']}"
    return str(exc)
