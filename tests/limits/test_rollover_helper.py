"""RolloverHelper: every method and the trim boundaries."""

from __future__ import annotations

import gc
import json

import pytest

from nai_script.host.rollover import (
    ITEM_BYTES_PER_SCRIPT,
    ItemBudget,
    RolloverFull,
    RolloverHelper,
)


async def count_words(text: str) -> int:
    return len(text.split())


def helper(max_tokens: int = 10, rollover: int = 5) -> RolloverHelper:
    return RolloverHelper(max_tokens, rollover, "glm-4-6", count_words)


def items(*tokens: int) -> list[dict[str, object]]:
    return [{"content": f"item{i}", "tokens": t} for i, t in enumerate(tokens)]


async def test_add_counts_missing_tokens_and_keeps_other_keys() -> None:
    h = helper()
    await h.add({"content": "one two three", "role": "user"})
    await h.add([{"content": "x", "tokens": 7, "id": 5}])
    assert h.get_all() == [
        {"content": "one two three", "role": "user", "tokens": 3},
        {"content": "x", "tokens": 7, "id": 5},
    ]
    assert (h.count(), h.total_tokens()) == (2, 10)


async def test_bad_items_name_the_problem_and_add_nothing() -> None:
    h = helper()
    with pytest.raises(ValueError, match="rollover item 1: content"):
        await h.add([{"content": "ok"}, {"tokens": 3}])
    with pytest.raises(ValueError, match="rollover item 0: tokens"):
        await h.add({"content": "a", "tokens": -1})
    with pytest.raises(ValueError, match="rollover item 0: content"):
        await h.add({"content": 5})
    assert h.get_all() == []


async def test_exactly_max_plus_rollover_is_not_trimmed() -> None:
    h = helper(10, 5)
    await h.add(items(5, 5, 5))
    assert h.total_tokens() == 15
    assert len(h.read()) == 3


async def test_one_over_trims_down_to_max() -> None:
    h = helper(10, 5)
    await h.add(items(5, 5, 5, 1))  # 16 > 15: drop oldest until <= 10
    assert [i["tokens"] for i in h.peek()] == [5, 1]
    assert (h.count(), h.total_tokens()) == (2, 6)
    assert len(h.get_all()) == 4  # peek moved nothing
    assert [i["content"] for i in h.read()] == ["item2", "item3"]
    assert len(h.get_all()) == 4  # trimmed items stay until compact
    await h.add(items(4))  # 10 <= 15: no trim, window grows from the moved start
    assert h.total_tokens() == 10
    assert len(h.read()) == 3


async def test_item_bigger_than_max_alone_empties_the_window() -> None:
    h = helper(10, 5)
    await h.add(items(3, 20))
    assert h.peek() == []
    assert (h.count(), h.total_tokens()) == (0, 0)
    assert h.read() == []
    assert len(h.get_all()) == 2


async def test_compact_after_read_drops_trimmed_items() -> None:
    h = helper(10, 0)
    await h.add(items(6, 6, 3))
    assert [i["tokens"] for i in h.read()] == [6, 3]
    h.compact()
    assert [i["tokens"] for i in h.get_all()] == [6, 3]
    assert [i["tokens"] for i in h.read()] == [6, 3]
    h.compact()  # idempotent
    assert len(h.get_all()) == 2


async def test_compact_without_read_keeps_everything() -> None:
    h = helper(10, 0)
    await h.add(items(6, 6))
    h.compact()
    assert len(h.get_all()) == 2
    assert h.count() == 1


async def test_remove_drops_the_last_n() -> None:
    h = helper(100, 0)
    await h.add(items(1, 2, 3, 4))
    h.remove(0)
    assert h.count() == 4
    h.remove(2)
    assert [i["tokens"] for i in h.get_all()] == [1, 2]
    h.remove(10)  # more than count: everything
    assert h.get_all() == []
    assert h.count() == 0
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        h.remove(-1)


async def test_remove_into_the_trimmed_part_keeps_start_valid() -> None:
    h = helper(5, 0)
    await h.add(items(3, 3, 3))
    assert len(h.read()) == 1  # start moved to 2
    h.remove(2)
    assert h.read() == []
    assert h.count() == 0
    await h.add(items(2))
    assert [i["tokens"] for i in h.read()] == [2]


async def test_clear_and_config() -> None:
    h = helper(10, 5)
    await h.add(items(20, 1))
    h.read()
    h.clear()
    assert (h.get_all(), h.read(), h.count(), h.total_tokens()) == ([], [], 0, 0)
    config = h.get_config()
    assert (config.max_tokens, config.rollover_tokens, config.model) == (10, 5, "glm-4-6")


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        helper(0, 5)
    with pytest.raises(ValueError, match="rollover_tokens"):
        helper(10, -1)


async def test_returned_items_are_copies() -> None:
    h = helper()
    await h.add(items(1))
    h.read()[0]["tokens"] = 99
    assert h.total_tokens() == 1


async def test_a_scripts_helpers_share_one_item_budget_that_drops_give_back() -> None:
    """Items live in the host's memory and an item with its own ``tokens`` is never
    tokenized, so only this budget bounds them: one script's helpers share it, an add past it
    adds nothing, and whatever drops items (remove, clear, compact after read) gives back."""
    item = {"content": "x" * 80, "tokens": 1}
    size = len('{"content": "' + "x" * 80 + '", "tokens": 1}')
    budget = ItemBudget(cap=3 * size)
    one = RolloverHelper(10, 0, "glm-4-6", count_words, budget)
    two = RolloverHelper(10, 0, "glm-4-6", count_words, budget)
    await one.add([item, item])
    await two.add(item)
    with pytest.raises(RolloverFull, match=f"would hold {4 * size:,} bytes"):
        await two.add(item)
    with pytest.raises(RolloverFull):
        await one.add([{"content": "", "tokens": 0}, item])  # all or nothing
    assert (one.count(), two.count(), budget.used) == (2, 1, 3 * size)
    one.remove(1)
    await two.add(item)
    two.clear()
    assert budget.used == size
    await one.add([{"content": "y" * 80, "tokens": 10}])  # trims the first away on read()
    one.read()
    one.compact()
    assert budget.used == size + 1  # "y" item is one byte larger ("tokens": 10)
    assert ItemBudget().cap == ITEM_BYTES_PER_SCRIPT == 32 * 1024 * 1024


async def test_a_collected_helper_gives_its_items_budget_back() -> None:
    """The host drops a helper the script no longer holds; what its items took must come back
    with it, or a script making a helper per chat would run out though nothing is held."""
    budget = ItemBudget(cap=1000)
    dropped = RolloverHelper(10, 0, "glm-4-6", count_words, budget)
    await dropped.add({"content": "x" * 500, "tokens": 1})
    kept = RolloverHelper(10, 0, "glm-4-6", count_words, budget)
    await kept.add({"content": "y" * 100, "tokens": 1})
    del dropped
    gc.collect()
    assert budget.used == len(json.dumps({"content": "y" * 100, "tokens": 1}))
    await kept.add({"content": "z" * 500, "tokens": 1})
