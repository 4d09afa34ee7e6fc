"""HF tokenizer.json, SentencePiece .model and NovelAI .def loaders, with special tokens."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer as RawTokenizer

from nai_script.tokenizers import (
    HFTokenizer,
    SentencePieceTokenizer,
    Tokenizer,
    TokenizerError,
    load_tokenizer_file,
)
from nai_script.tokenizers.novelai_def import load_definition

ADJACENT = [
    "word<|endoftext|>word",
    "<|endoftext|>after",
    "before<|endoftext|>",
    "space <|endoftext|> space",
    "newline\n<|endoftext|>\nnewline",
    "東京<|user|>猫<|assistant|>é",
    "<|user|><|assistant|><|endoftext|>",
    "emoji🐉<|endoftext|>🙂",
    "   leading and trailing   ",
    "tabs\tand\r\nCRLF",
    "",
]


@functools.cache
def _cached(path: Path) -> Tokenizer:
    return load_tokenizer_file(path, path.stem)


@pytest.mark.parametrize("text", ADJACENT)
@pytest.mark.parametrize(
    ("path_fixture", "kind"),
    [("tiny_bpe_path", HFTokenizer), ("tiny_spm_path", SentencePieceTokenizer)],
    ids=["hf", "spm"],
)
def test_round_trip(
    request: pytest.FixtureRequest, path_fixture: str, kind: type[Tokenizer], text: str
) -> None:
    tok = _cached(request.getfixturevalue(path_fixture))
    assert isinstance(tok, kind)
    assert tok.decode(tok.encode(text)) == text


def test_hf_specials_become_single_ids(tiny_bpe_path: Path) -> None:
    tok = load_tokenizer_file(tiny_bpe_path, "tiny")
    eot = tok.special_tokens["<|endoftext|>"]
    ids = tok.encode("a<|endoftext|>b")
    assert ids.count(eot) == 1
    assert tok.decode([eot]) == "<|endoftext|>"
    # The character right after a special survives (the seed client loses it).
    assert tok.decode(ids).endswith("<|endoftext|>b")


def test_hf_native_path_matches_splicer(tiny_bpe_path: Path) -> None:
    tok = HFTokenizer.from_file(tiny_bpe_path, "tiny")
    assert tok._native_split
    text = "x<|user|>\nHi there<|assistant|>\nok<|endoftext|>"
    assert tok.encode(text) == tok._splicer.encode(text)
    assert tok.encode_batch([text, "plain"]) == [tok.encode(text), tok.encode("plain")]


def test_hf_specials_not_registered_are_spliced(tiny_bpe: RawTokenizer, tmp_path: Path) -> None:
    """A file whose special added tokens strip whitespace must still round-trip exactly."""
    spec = json.loads(tiny_bpe.to_str())
    for added in spec["added_tokens"]:
        added["lstrip"] = True
        added["rstrip"] = True
    path = tmp_path / "stripping.json"
    path.write_text(json.dumps(spec))
    tok = HFTokenizer.from_file(path, "stripping")
    assert not tok._native_split
    text = "a  <|endoftext|>  b"
    assert tok.decode(tok.encode(text)) == text


def test_hf_template_special_missing_is_named(tiny_bpe_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"no token '<\|eot_id\|>'"):
        load_tokenizer_file(tiny_bpe_path, "tiny", ["<|eot_id|>"])


def test_hf_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(TokenizerError, match=r"broken\.json: not a valid tokenizer\.json"):
        load_tokenizer_file(path, "broken")


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text("a")
    with pytest.raises(TokenizerError, match=r"unknown tokenizer file type '\.txt'"):
        load_tokenizer_file(path, "x")


def test_spm_control_symbols_are_spliced(tiny_spm_path: Path) -> None:
    tok = load_tokenizer_file(tiny_spm_path, "tiny-spm", ["<|system|>"])
    eot = tok.special_tokens["<|endoftext|>"]
    system = tok.special_tokens["<|system|>"]
    ids = tok.encode("a<|endoftext|>b<|system|>c")
    assert eot in ids
    assert system in ids
    assert tok.decode([eot]) == "<|endoftext|>"
    assert tok.decode(ids) == "a<|endoftext|>b<|system|>c"


def test_spm_missing_special_is_named(tiny_spm_path: Path) -> None:
    with pytest.raises(TokenizerError, match=r"no piece '<\|eot_id\|>'"):
        load_tokenizer_file(tiny_spm_path, "tiny-spm", ["<|eot_id|>"])


def test_spm_rejects_bad_ids_and_bad_files(tiny_spm_path: Path, tmp_path: Path) -> None:
    tok = load_tokenizer_file(tiny_spm_path, "tiny-spm")
    with pytest.raises(TokenizerError, match=f"token id {tok.vocab_size} at position 0"):
        tok.decode([tok.vocab_size])
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(TokenizerError, match=r"bad\.model: not a valid SentencePiece model"):
        load_tokenizer_file(bad, "bad")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10),
            st.sampled_from(["<|endoftext|>", "<|user|>", "<|assistant|>", "\n", " "]),
        ),
        max_size=8,
    )
)
def test_round_trip_property_both_loaders(
    tiny_bpe_path: Path, tiny_spm_path: Path, pieces: list[str]
) -> None:
    text = "".join(pieces)
    for tok in (_cached(tiny_bpe_path), _cached(tiny_spm_path)):
        assert tok.decode(tok.encode(text)) == text


def test_def_matches_the_hf_tokenizer_it_describes(tiny_bpe_path: Path, tiny_def: bytes) -> None:
    hf = load_tokenizer_file(tiny_bpe_path, "tiny")
    nai = load_definition(tiny_def, "tiny-def")
    text = 'The fox said: "It\'s 3.14!"\n東京<|endoftext|>  spaced   out<|user|>'
    assert nai.encode(text) == hf.encode(text)
    assert nai.decode(nai.encode(text)) == text
    assert nai.special_tokens == hf.special_tokens


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x02\x03not-compressed", "not a NovelAI tokenizer definition"),
        (b'{"config": {}}', "malformed tokenizer definition"),
    ],
)
def test_def_rejects_bad_data(data: bytes, message: str) -> None:
    with pytest.raises(TokenizerError, match=message):
        load_definition(data, "bad", source="bad.def")
