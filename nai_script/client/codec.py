"""Token ids on the wire for `/ai/generate`: base64 of little-endian unsigned integers.

NovelAI packs ids as uint16, except for Llama-3 Erato whose vocabulary needs uint32.
"""

from __future__ import annotations

import base64
import binascii
import sys
from array import array
from collections.abc import Iterable

# Models whose vocabulary does not fit in 16 bits.
_WIDE_TOKEN_MODELS = frozenset({"llama-3-erato-v1"})

_TYPECODE_BY_WIDTH = {2: "H", 4: "I" if array("I").itemsize == 4 else "L"}
_BIG_ENDIAN_HOST = sys.byteorder == "big"


def token_width(model_id: str) -> int:
    """Bytes per token id for `model_id`: 4 for llama-3-erato-v1, else 2."""
    return 4 if model_id in _WIDE_TOKEN_MODELS else 2


def _typecode(width: int) -> str:
    try:
        return _TYPECODE_BY_WIDTH[width]
    except KeyError:
        raise ValueError(f"token width must be 2 or 4 bytes, got {width}") from None


def pack_token_ids(ids: Iterable[int], width: int) -> str:
    """Base64 of `ids` as little-endian uint16 (`width=2`) or uint32 (`width=4`).

    An id outside the range raises ValueError naming the id and its position.
    """
    typecode = _typecode(width)
    limit = 1 << (8 * width)
    values = list(ids)
    for position, token_id in enumerate(values):
        if isinstance(token_id, bool) or not isinstance(token_id, int):
            raise ValueError(f"token id at position {position} is not an integer: {token_id!r}")
        if not 0 <= token_id < limit:
            raise ValueError(
                f"token id {token_id} at position {position} does not fit in "
                f"uint{8 * width} (0..{limit - 1})"
            )
    packed = array(typecode, values)
    if _BIG_ENDIAN_HOST:
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def unpack_token_ids(b64: str, width: int) -> list[int]:
    """The ids in a base64 string produced by `pack_token_ids` (or by NovelAI)."""
    typecode = _typecode(width)
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"token ids are not valid base64: {exc}") from None
    if len(raw) % width:
        raise ValueError(
            f"token id bytes ({len(raw)}) are not a multiple of the token width ({width})"
        )
    values = array(typecode)
    values.frombytes(raw)
    if _BIG_ENDIAN_HOST:
        values.byteswap()
    return values.tolist()
