"""``RecentEncodings``: a text encoded lately is a lookup, bounded by text and entry count."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from nai_script.tokenizers import TokenizerRegistry
from nai_script.tokenizers.hf import HFTokenizer
from nai_script.tokenizers.recent import RecentEncodings
from nai_script.tokenizers.registry import OFF_LOOP_CHARS
from nai_script.tokenizers.sim import sim_tokenizer


class CountingTokenizer:
    """The real simulator tokenizer, counting its encodes."""

    def __init__(self, inner: HFTokenizer) -> None:
        self.inner = inner
        self.encodes = 0
        self.name = inner.name
        self.vocab_size = inner.vocab_size
        self.special_tokens = inner.special_tokens

    def encode(self, text: str) -> list[int]:
        self.encodes += 1
        return self.inner.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.inner.decode(ids)


@pytest.fixture
def counting() -> CountingTokenizer:
    return CountingTokenizer(sim_tokenizer())


def test_second_encode_of_a_text_is_a_lookup_with_the_same_ids(
    counting: CountingTokenizer,
) -> None:
    recent = RecentEncodings()
    first = recent.encode(counting, "The lighthouse keeper climbed the stairs.")
    second = recent.encode(counting, "The lighthouse keeper climbed the stairs.")
    assert first == second == sim_tokenizer().encode("The lighthouse keeper climbed the stairs.")
    assert counting.encodes == 1
    assert (recent.hits, recent.misses) == (1, 1)


def test_each_lookup_is_a_new_list(counting: CountingTokenizer) -> None:
    recent = RecentEncodings()
    ids = recent.encode(counting, "hello there")
    ids.append(-1)  # a caller changing its list changes nobody else's
    assert recent.encode(counting, "hello there") == sim_tokenizer().encode("hello there")


def test_tokenizers_do_not_share_entries(counting: CountingTokenizer) -> None:
    other = CountingTokenizer(sim_tokenizer())
    recent = RecentEncodings()
    recent.encode(counting, "same text")
    recent.encode(other, "same text")
    assert (counting.encodes, other.encodes) == (1, 1)


def test_least_recently_used_goes_first_by_entry_count(counting: CountingTokenizer) -> None:
    recent = RecentEncodings(max_entries=2)
    recent.encode(counting, "a")
    recent.encode(counting, "b")
    recent.encode(counting, "a")  # "a" is now the most recent
    recent.encode(counting, "c")  # evicts "b"
    assert len(recent) == 2
    assert recent.get(counting, "a") is not None
    assert recent.get(counting, "b") is None
    assert recent.get(counting, "c") is not None


def test_text_budget_evicts_until_it_fits_and_an_oversize_text_is_not_kept(
    counting: CountingTokenizer,
) -> None:
    recent = RecentEncodings(max_chars=10)
    recent.encode(counting, "aaaa")
    recent.encode(counting, "bbbb")
    recent.encode(counting, "cccc")  # 12 chars: "aaaa" goes
    assert recent.get(counting, "aaaa") is None
    assert recent.get(counting, "bbbb") is not None
    recent.encode(counting, "x" * 11)  # longer than the budget: encoded, never kept
    assert recent.get(counting, "x" * 11) is None
    assert recent.get(counting, "cccc") is not None


def test_exactly_the_budget_is_kept(counting: CountingTokenizer) -> None:
    recent = RecentEncodings(max_chars=10)
    recent.encode(counting, "y" * 10)
    assert recent.get(counting, "y" * 10) is not None


def test_zero_entries_keeps_nothing(counting: CountingTokenizer) -> None:
    recent = RecentEncodings(max_entries=0)
    recent.encode(counting, "a")
    recent.encode(counting, "a")
    assert counting.encodes == 2


def test_negative_budgets_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        RecentEncodings(max_chars=-1)


def test_threads_racing_keep_the_budget(counting: CountingTokenizer) -> None:
    recent = RecentEncodings(max_chars=200, max_entries=8)
    texts = [f"text number {i} " * (i % 5 + 1) for i in range(40)]

    def work(offset: int) -> None:
        for round_ in range(50):
            text = texts[(offset + round_) % len(texts)]
            assert recent.encode(counting, text) == sim_tokenizer().encode(text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(recent) <= 8
    kept = sum(len(text) for text in texts if recent.get(counting, text) is not None)
    assert kept <= 200


def test_registry_counts_then_sends_with_one_tokenization() -> None:
    """The host's path: a prompt counted, then sent (the chat template renders the same text)."""
    registry = TokenizerRegistry(backend="sim")
    messages = [{"role": "user", "content": "Tell me about the lighthouse."}]
    counted = registry.encode_chat("glm-4-6", messages)
    before = registry.recent.hits
    sent = registry.encode_chat("glm-4-6", messages)
    assert sent == counted
    assert registry.recent.hits == before + 1


def test_registry_long_text_off_the_loop_is_remembered_too() -> None:
    registry = TokenizerRegistry(backend="sim")
    text = "The keeper counted every step. " * (OFF_LOOP_CHARS // 30 + 1)
    assert len(text) >= OFF_LOOP_CHARS

    async def twice() -> tuple[list[int], list[int]]:
        return await registry.encode_async("glm-4-6", text), await registry.encode_async(
            "glm-4-6", text
        )

    first, second = asyncio.run(twice())
    assert first == second == sim_tokenizer().encode(text)
    assert registry.recent.hits == 1
