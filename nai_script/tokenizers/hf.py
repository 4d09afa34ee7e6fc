"""Tokenizers stored as HF ``tokenizer.json`` files, through the ``tokenizers`` library.

Hot path: when every special token is registered in the file as a plain added token (no
stripping, no normalisation), the library already splits the specials exactly as
``SpecialTokenSplicer`` would, so ``encode`` is one native call. Otherwise, and always for
decoding, the splicer does the work so that specials decode to their exact text.

Long texts go through the library's batch call, which releases the GIL while it works (its
single-text call holds it): tokenized on a thread, a megabyte then no longer stalls the
event loop's thread for half a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import AddedToken
from tokenizers import Tokenizer as RawTokenizer

from nai_script.tokenizers.base import SplicingTokenizer
from nai_script.tokenizers.errors import TokenizerError

#: Texts at least this long are encoded by the batch call (GIL released; see the module doc).
GIL_FREE_CHARS = 16 * 1024


class HFTokenizer(SplicingTokenizer):
    """A ``Tokenizer`` over a ``tokenizers.Tokenizer``."""

    def __init__(self, raw: RawTokenizer, name: str, extra_specials: Iterable[str] = ()) -> None:
        self._raw = raw
        specials, natively_split = _specials_of(raw)
        for text in extra_specials:
            if text in specials:
                continue
            token_id = raw.token_to_id(text)
            if token_id is None:
                raise TokenizerError(
                    f"tokenizer {name!r} has no token {text!r}, which its chat template needs"
                )
            specials[text] = token_id
            natively_split = False
        super().__init__(name, raw.get_vocab_size(with_added_tokens=True), specials)
        self._native_split = natively_split

    @classmethod
    def from_file(cls, path: Path, name: str, extra_specials: Iterable[str] = ()) -> HFTokenizer:
        try:
            raw = RawTokenizer.from_file(str(path))
        except Exception as exc:  # the library raises bare Exception on malformed files
            raise TokenizerError(f"{path}: not a valid tokenizer.json ({exc})") from exc
        return cls(raw, name, extra_specials)

    @classmethod
    def from_json(cls, text: str, name: str, extra_specials: Iterable[str] = ()) -> HFTokenizer:
        try:
            raw = RawTokenizer.from_str(text)
        except Exception as exc:
            raise TokenizerError(f"tokenizer {name!r}: not a valid tokenizer.json ({exc})") from exc
        return cls(raw, name, extra_specials)

    @property
    def raw(self) -> RawTokenizer:
        """The underlying library object (benchmarks compare against it)."""
        return self._raw

    def encode(self, text: str) -> list[int]:
        if self._native_split:
            return self._encode_plain(text)
        return self._splicer.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Many texts at once; the library parallelises this natively."""
        if self._native_split:
            encodings = self._raw.encode_batch(list(texts), add_special_tokens=False)
            return [encoding.ids for encoding in encodings]
        return [self._splicer.encode(text) for text in texts]

    def _encode_plain(self, text: str) -> list[int]:
        if len(text) >= GIL_FREE_CHARS:
            return self._raw.encode_batch([text], add_special_tokens=False)[0].ids
        return self._raw.encode(text, add_special_tokens=False).ids

    def _decode_plain(self, ids: Sequence[int]) -> str:
        return self._raw.decode(list(ids), skip_special_tokens=False)


def _specials_of(raw: RawTokenizer) -> tuple[dict[str, int], bool]:
    """The file's special added tokens, and whether the library splits them losslessly."""
    specials: dict[str, int] = {}
    lossless = True
    for token_id, added in sorted(raw.get_added_tokens_decoder().items()):
        if not added.special:
            continue
        specials[added.content] = token_id
        if not _splits_losslessly(added):
            lossless = False
    return specials, lossless


def _splits_losslessly(added: AddedToken) -> bool:
    return not (added.lstrip or added.rstrip or added.single_word or added.normalized)
