"""The shipped simulator tokenizer: exact round trips, fixed special ids, reproducible build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nai_script.tokenizers import SIM_SPECIAL_TOKENS, Tokenizer, TokenizerError, sim_tokenizer

ROOT = Path(__file__).resolve().parents[2]


def test_sim_tokenizer_is_shared_and_sized() -> None:
    tok = sim_tokenizer()
    assert tok is sim_tokenizer()
    assert isinstance(tok, Tokenizer)
    assert tok.name == "nai-sim-v1"
    assert tok.vocab_size == 8192


def test_special_tokens_have_fixed_leading_ids() -> None:
    tok = sim_tokenizer()
    assert dict(tok.special_tokens) == {t: i for i, t in enumerate(SIM_SPECIAL_TOKENS)}
    for index, special in enumerate(SIM_SPECIAL_TOKENS):
        assert tok.encode(special) == [index]
        assert tok.decode([index]) == special


@pytest.mark.parametrize(
    "text",
    [
        "Hello<|endoftext|>world",
        "<|endoftext|>x",
        "x<|endoftext|>",
        "a <|endoftext|> b",
        "line\n<|eot_id|>\nnext",
        "[gMASK]<sop><|system|>\nBe kind.<|user|>\nHi<|assistant|>\n",
        "東京<|user|>café🐉<|assistant|>ñ",
        "<|start_header_id|><|end_header_id|><|eot_id|>",
        "  \t\n\n  ",
        "",
        "<|endoftext",  # an unfinished special is plain text
        "<|<|endoftext|>|>",
    ],
)
def test_round_trip_with_specials(text: str) -> None:
    tok = sim_tokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_unfinished_special_is_not_a_special_id() -> None:
    tok = sim_tokenizer()
    ids = tok.encode("<|endoftext")
    assert not set(ids) & set(tok.special_tokens.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SIM_SPECIAL_TOKENS)), max_size=8))
def test_round_trip_property(pieces: list[str]) -> None:
    tok = sim_tokenizer()
    text = "".join(pieces)
    assert tok.decode(tok.encode(text)) == text


def test_decode_rejects_ids_outside_vocabulary() -> None:
    tok = sim_tokenizer()
    with pytest.raises(TokenizerError, match=r"token id 8192 at position 1"):
        tok.decode([5, 8192])
    with pytest.raises(TokenizerError, match=r"token id -1 at position 0"):
        tok.decode([-1])


def test_prose_compresses_like_a_real_bpe() -> None:
    tok = sim_tokenizer()
    text = (ROOT / "tools" / "sim_corpus" / "prose.txt").read_text(encoding="utf-8")
    assert len(tok.encode(text)) < len(text) / 3


def test_build_is_deterministic_and_committed_file_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_sim_tokenizer.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
