"""The simulator's tokenizer and the base64 token-id codec of ``/ai/generate``.

The tokenizer is ``nai_script.tokenizers.sim_tokenizer()`` (a project-made byte-level BPE);
ids the simulator did not make are treated as opaque and only counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from nai_script.client.codec import pack_token_ids, token_width, unpack_token_ids
from nai_script.tokenizers import sim_tokenizer


class SimTokenizer(Protocol):
    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class ByteTokenizer:
    """One token per UTF-8 byte: the smallest ``SimTokenizer`` (a ``SimState`` may be given
    any tokenizer of this shape)."""

    vocab_size = 256

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int]) -> str:
        return bytes(i for i in ids if 0 <= i < 256).decode("utf-8", errors="replace")


def load_sim_tokenizer() -> SimTokenizer:
    """The shared simulator tokenizer (``sim_tokenizer`` loads it once per process)."""
    return sim_tokenizer()


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
