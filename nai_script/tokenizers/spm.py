"""Tokenizers stored as SentencePiece ``.model`` files, through ``sentencepiece``.

SentencePiece never produces control symbols (``<|endoftext|>`` as a control piece) from text
and decodes them to nothing, so ``SpecialTokenSplicer`` handles them: text is split on them and
their ids decode to their text. User-defined symbols SentencePiece handles natively.

Exact round trips need a model trained with identity normalisation, no dummy prefix, no
whitespace collapsing and byte fallback (NovelAI's nerdstash models are built that way); a model
that normalises text decodes to the normalised text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from nai_script.tokenizers.base import SplicingTokenizer
from nai_script.tokenizers.errors import TokenizerError


class SentencePieceTokenizer(SplicingTokenizer):
    """A ``Tokenizer`` over a ``sentencepiece.SentencePieceProcessor``."""

    def __init__(
        self, processor: spm.SentencePieceProcessor, name: str, extra_specials: Iterable[str] = ()
    ) -> None:
        self._sp = processor
        vocab_size = int(processor.get_piece_size())
        specials: dict[str, int] = {}
        for token_id in range(vocab_size):
            if processor.is_control(token_id):
                specials[processor.id_to_piece(token_id)] = token_id
        native: dict[str, int] = {}
        for text in extra_specials:
            if text in specials:
                continue
            token_id = int(processor.piece_to_id(text))
            if token_id == processor.unk_id() and processor.id_to_piece(token_id) != text:
                raise TokenizerError(
                    f"tokenizer {name!r} has no piece {text!r}, which its chat template needs"
                )
            native[text] = token_id  # a user-defined symbol: SentencePiece splits it itself
        super().__init__(name, vocab_size, {**specials, **native}, spliced=specials)

    @classmethod
    def from_file(
        cls, path: Path, name: str, extra_specials: Iterable[str] = ()
    ) -> SentencePieceTokenizer:
        return cls.from_bytes(path.read_bytes(), name, extra_specials, source=str(path))

    @classmethod
    def from_bytes(
        cls, data: bytes, name: str, extra_specials: Iterable[str] = (), source: str = ""
    ) -> SentencePieceTokenizer:
        processor = spm.SentencePieceProcessor()
        try:
            processor.load_from_serialized_proto(data)
        except Exception as exc:  # sentencepiece raises RuntimeError/OSError variants
            where = source or f"tokenizer {name!r}"
            raise TokenizerError(f"{where}: not a valid SentencePiece model ({exc})") from exc
        return cls(processor, name, extra_specials)

    def _encode_plain(self, text: str) -> list[int]:
        return list(self._sp.encode(text, out_type=int))

    def _decode_plain(self, ids: Sequence[int]) -> str:
        return str(self._sp.decode(list(ids)))
