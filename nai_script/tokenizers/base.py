"""The ``Tokenizer`` protocol every backend implements, and special-token splicing.

Tokenizer libraries disagree on special tokens: HF ``tokenizers`` splits registered added tokens
itself, SentencePiece treats control symbols as unencodable. ``SpecialTokenSplicer`` gives every
loader the same behaviour — specials in text become their ids, their ids decode back to their
text, and nothing next to them is lost (the seed client drops the character after a special).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from nai_script.tokenizers.errors import TokenizerError


@runtime_checkable
class Tokenizer(Protocol):
    """What the limits, the rollover helper and ``api.v1.tokenizer`` need from a tokenizer."""

    @property
    def name(self) -> str: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def special_tokens(self) -> Mapping[str, int]: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


def check_ids(name: str, vocab_size: int, ids: Sequence[int]) -> None:
    """Reject ids outside the vocabulary, naming the first offender and its position."""
    if not ids:
        return
    if min(ids) >= 0 and max(ids) < vocab_size:
        return
    for position, token_id in enumerate(ids):
        if not 0 <= token_id < vocab_size:
            raise TokenizerError(
                f"token id {token_id} at position {position} is outside the vocabulary of "
                f"tokenizer {name!r} (valid ids: 0..{vocab_size - 1})"
            )


class SpecialTokenSplicer:
    """Encode/decode around special tokens using plain-text encode/decode for the rest.

    Encoding splits the text on the specials (longest match first, so ``<|eot_id|>`` is never
    read as a shorter special), encodes each plain piece and puts the special ids between them.
    Decoding decodes each run of ordinary ids as a whole (so multi-byte characters split across
    tokens come back intact) and puts the specials' text between the runs.
    """

    def __init__(
        self,
        specials: Mapping[str, int],
        encode_plain: Callable[[str], list[int]],
        decode_plain: Callable[[Sequence[int]], str],
    ) -> None:
        self._ids_by_text = dict(specials)
        self._text_by_id = {token_id: text for text, token_id in specials.items()}
        self._encode_plain = encode_plain
        self._decode_plain = decode_plain
        ordered = sorted(self._ids_by_text, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @property
    def special_ids(self) -> frozenset[int]:
        return frozenset(self._text_by_id)

    def split(self, text: str) -> Iterable[tuple[str, bool]]:
        """Yield ``(piece, is_special)`` in order; plain pieces are never empty."""
        if self._pattern is None:
            if text:
                yield text, False
            return
        position = 0
        for match in self._pattern.finditer(text):
            if match.start() > position:
                yield text[position : match.start()], False
            yield match.group(), True
            position = match.end()
        if position < len(text):
            yield text[position:], False

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece, is_special in self.split(text):
            if is_special:
                ids.append(self._ids_by_text[piece])
            else:
                ids.extend(self._encode_plain(piece))
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        text_by_id = self._text_by_id
        if not text_by_id or text_by_id.keys().isdisjoint(ids):
            return self._decode_plain(ids)
        parts: list[str] = []
        run: list[int] = []
        for token_id in ids:
            special = text_by_id.get(token_id)
            if special is None:
                run.append(token_id)
                continue
            if run:
                parts.append(self._decode_plain(run))
                run = []
            parts.append(special)
        if run:
            parts.append(self._decode_plain(run))
        return "".join(parts)


class SplicingTokenizer:
    """The shared body of the file-backed tokenizers: name, vocabulary size and specials, with
    ``encode``/``decode`` through a ``SpecialTokenSplicer`` over the backend's plain calls.

    ``spliced`` are the specials the splicer handles (default: all of ``specials``); a backend
    that splits some specials natively passes only the others.
    """

    def __init__(
        self,
        name: str,
        vocab_size: int,
        specials: Mapping[str, int],
        spliced: Mapping[str, int] | None = None,
    ) -> None:
        self._name = name
        self._vocab_size = vocab_size
        self._specials = specials
        self._splicer = SpecialTokenSplicer(
            specials if spliced is None else spliced, self._encode_plain, self._decode_plain
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def special_tokens(self) -> Mapping[str, int]:
        return self._specials

    def encode(self, text: str) -> list[int]:
        return self._splicer.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        check_ids(self._name, self._vocab_size, ids)
        return self._splicer.decode(ids)

    def _encode_plain(self, text: str) -> list[int]:
        raise NotImplementedError

    def _decode_plain(self, ids: Sequence[int]) -> str:
        raise NotImplementedError
