"""Tiny tokenizers trained here, from text in this file: nothing is downloaded."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
import sentencepiece as spm
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# The regex HF's ByteLevel pre-tokenizer applies (GPT-2's), so a .def using it as splitRegex
# tokenizes exactly like the trained HF file.
GPT2_SPLIT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

SPECIALS = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>", "[gMASK]", "<sop>"]

TRAINING_TEXT = [
    "The little robot watered the tomatoes every morning before the sun rose.",
    "A fox slipped through the greenhouse door and ate the ripest one.",
    "Nobody believed the lighthouse keeper when she said the sea had spoken.",
    "Café owners in the old quarter argue about the best croissant in town.",
    "東京の雨は静かです。猫が窓の外を見ている。",
    "Numbers like 42, 1999 and 3.14 appear in stories more often than you think.",
    "She wrote letters to her brother, and he answered each one with a drawing.",
    "def greet(name):\n    return 'hello ' + name\n",
    'The captain said: "Route everything through the secondary loop!"',
] * 20


def train_tiny_bpe() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(TRAINING_TEXT, trainer=trainer)
    return tokenizer


@pytest.fixture(scope="session")
def tiny_bpe() -> Tokenizer:
    return train_tiny_bpe()


@pytest.fixture(scope="session")
def tiny_bpe_path(tmp_path_factory: pytest.TempPathFactory, tiny_bpe: Tokenizer) -> Path:
    path = tmp_path_factory.mktemp("bpe") / "tiny_bpe.json"
    tiny_bpe.save(str(path))
    return path


def definition_bytes(tokenizer: Tokenizer) -> bytes:
    """A NovelAI-style .def (raw deflate JSON) describing ``tokenizer``."""
    spec = json.loads(tokenizer.to_str())
    body = {
        "config": {"splitRegex": GPT2_SPLIT, "maxEncodeChars": 100000},
        "specialTokens": SPECIALS,
        "vocab": spec["model"]["vocab"],
        "merges": spec["model"]["merges"],
    }
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(json.dumps(body).encode()) + compressor.flush()


@pytest.fixture(scope="session")
def tiny_def(tiny_bpe: Tokenizer) -> bytes:
    return definition_bytes(tiny_bpe)


@pytest.fixture(scope="session")
def tiny_spm_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-fallback BPE SentencePiece model with identity normalisation (exact round trip)."""
    folder = tmp_path_factory.mktemp("spm")
    prefix = folder / "tiny"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXT),
        model_prefix=str(prefix),
        model_type="bpe",
        vocab_size=420,
        byte_fallback=True,
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        split_by_whitespace=True,
        control_symbols=["<|endoftext|>", "<|user|>", "<|assistant|>"],
        user_defined_symbols=["<|system|>", "\n"],
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return prefix.with_suffix(".model")
