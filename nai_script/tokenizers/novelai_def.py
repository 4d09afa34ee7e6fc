"""NovelAI's own tokenizer definitions (``<name>.def``), as its web client loads them.

NovelAI serves them at ``https://novelai.net/tokenizer/compressed/<name>.def?v=2&static=true``.
Community clients (novelai-python, nai-js-tokenizer users) agree on the format: deflate-
compressed JSON (raw deflate in practice; zlib and gzip wrappers are accepted too) holding
``{"config": {"splitRegex", "maxEncodeChars"?, "maxNoWhitespaceChars"?, "ignoreMerges"?},
"specialTokens": [...], "vocab": {token: id}, "merges": [[a, b], ...]}`` — a BPE vocabulary with
a pre-split regex. Byte-level vocabularies (GPT-2 style ``Ġ`` for space) get byte-level
decoding; others are read as plain-character BPE.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tokenizers import Regex, decoders, pre_tokenizers
from tokenizers import Tokenizer as RawTokenizer
from tokenizers.models import BPE

from nai_script.tokenizers.errors import TokenizerError
from nai_script.tokenizers.hf import HFTokenizer


class DefinitionConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    split_regex: str = Field(alias="splitRegex")
    max_encode_chars: int | None = Field(default=None, alias="maxEncodeChars")
    max_no_whitespace_chars: int | None = Field(default=None, alias="maxNoWhitespaceChars")
    ignore_merges: bool = Field(default=False, alias="ignoreMerges")


class TokenizerDefinition(BaseModel):
    """The JSON inside a ``.def`` file."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    config: DefinitionConfig
    special_tokens: list[str] = Field(default_factory=list, alias="specialTokens")
    vocab: dict[str, int]
    merges: list[list[str] | str]

    def merge_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for index, merge in enumerate(self.merges):
            parts = merge.split(" ") if isinstance(merge, str) else merge
            if len(parts) != 2:
                raise TokenizerError(f"merges[{index}]: expected a pair, got {merge!r}")
            pairs.append((parts[0], parts[1]))
        return pairs


def decompress_definition(data: bytes, source: str) -> str:
    """The JSON text of a ``.def``: raw deflate, else zlib, else gzip, else plain JSON."""
    for attempt in (
        lambda: zlib.decompress(data, -zlib.MAX_WBITS),
        lambda: zlib.decompress(data),
        lambda: gzip.decompress(data),
    ):
        try:
            return attempt().decode("utf-8")
        except (zlib.error, OSError, EOFError, UnicodeDecodeError):
            continue
    if data.lstrip()[:1] == b"{":
        return data.decode("utf-8", errors="strict")
    raise TokenizerError(f"{source}: not a NovelAI tokenizer definition (not deflate/zlib/gzip)")


def parse_definition(data: bytes, source: str) -> TokenizerDefinition:
    text = decompress_definition(data, source)
    try:
        return TokenizerDefinition.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise TokenizerError(f"{source}: malformed tokenizer definition ({first})") from exc


def definition_to_raw(definition: TokenizerDefinition) -> RawTokenizer:
    """Build the ``tokenizers`` object the definition describes."""
    byte_level = "Ġ" in definition.vocab or " " not in definition.vocab
    model = BPE(
        vocab=definition.vocab,
        merges=definition.merge_pairs(),
        ignore_merges=definition.config.ignore_merges,
        fuse_unk=False,
    )
    raw = RawTokenizer(model)
    split = pre_tokenizers.Split(Regex(definition.config.split_regex), behavior="isolated")
    if byte_level:
        raw.pre_tokenizer = pre_tokenizers.Sequence(
            [split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
        )
        raw.decoder = decoders.ByteLevel()
    else:
        raw.pre_tokenizer = split
        raw.decoder = decoders.Fuse()
    raw.add_special_tokens(definition.special_tokens)
    return raw


def load_definition(
    data: bytes, name: str, extra_specials: Iterable[str] = (), source: str = ""
) -> HFTokenizer:
    """A ``Tokenizer`` from the bytes of a ``.def`` file."""
    definition = parse_definition(data, source or f"tokenizer {name!r}")
    return HFTokenizer(definition_to_raw(definition), name, extra_specials)
