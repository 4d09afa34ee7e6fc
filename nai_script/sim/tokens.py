"""The simulator's tokenizer and the base64 token-id codec of ``/ai/generate``.

The tokenizer comes from ``nai_script.tokenizers.sim_tokenizer()`` (a project-made byte-level
BPE). If that package is unavailable the simulator falls back to one id per UTF-8 byte, so it
still runs; either way ids it did not make are treated as opaque and only counted.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol, cast

from nai_script.client.codec import pack_token_ids, token_width, unpack_token_ids


class SimTokenizer(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """Fallback: one token per UTF-8 byte. Honest, tiny, and always available."""

    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")


@lru_cache(maxsize=1)
def load_sim_tokenizer() -> SimTokenizer:
    """The shared simulator tokenizer (loaded once per process)."""
    try:
        module = importlib.import_module("nai_script.tokenizers")
        factory = module.sim_tokenizer
    except (ImportError, AttributeError):
        return ByteTokenizer()
    return cast(SimTokenizer, factory())


def count_prompt_ids(ids: Sequence[int]) -> int:
    """Foreign ids (beyond our vocabulary) are opaque: they count, nothing else."""
    return len(ids)


class TokenCodecError(ValueError):
    """Base64 token input that cannot be read; the message names the field."""


def decode_token_ids(data: str, model_id: str, *, field: str = "input") -> list[int]:
    """Base64 little-endian ids at the model's wire width (``nai_script.client.codec``)."""
    try:
        return unpack_token_ids(data, token_width(model_id))
    except ValueError as exc:
        raise TokenCodecError(f"{field}: {exc}") from None


def encode_token_ids(ids: Sequence[int], model_id: str) -> str:
    """Ids -> base64 at the model's wire width."""
    return pack_token_ids(ids, token_width(model_id))
