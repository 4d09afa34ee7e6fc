"""Deterministic pseudo-prose: readable, seeded, with real token ids and stop handling."""

from __future__ import annotations

import re

from nai_script.sim.prose import ProseGenerator, load_word_list, seed_from
from nai_script.sim.tokens import ByteTokenizer, load_sim_tokenizer


def _generator() -> ProseGenerator:
    return ProseGenerator(load_sim_tokenizer())


def test_word_list_sections_are_present_and_ascii() -> None:
    words = load_word_list()
    for section in ("noun", "adjective", "verb", "adverb", "preposition", "name", "place"):
        assert len(words[section]) >= 8, section
    assert all(w.isascii() for ws in words.values() for w in ws)


def test_same_seed_same_tokens_other_seed_other_tokens() -> None:
    gen = _generator()
    a = gen.generate(seed_from(1, "m", "p"), 200)
    assert a == _generator().generate(seed_from(1, "m", "p"), 200)
    assert a.token_ids != gen.generate(seed_from(2, "m", "p"), 200).token_ids


def test_shorter_budget_is_a_prefix_and_finishes_by_length() -> None:
    gen = _generator()
    long = gen.generate(5, 300)
    short = gen.generate(5, 40)
    assert len(long.tokens) == 300
    assert len(short.tokens) == 40
    assert short.tokens == long.tokens[:40]
    assert short.finish_reason == long.finish_reason == "length"


def test_ids_are_the_tokenizers_own_and_decode_to_the_text() -> None:
    tokenizer = load_sim_tokenizer()
    result = _generator().generate(11, 500)
    assert all(0 <= i < tokenizer.vocab_size for i in result.token_ids)
    assert tokenizer.decode(result.token_ids) == result.text


def test_text_reads_like_prose() -> None:
    text = _generator().generate(3, 400).text
    sentences = re.findall(r"[A-Z\"][^.]*\.", text)
    assert len(sentences) >= 5
    assert "\n" in text  # paragraphs
    assert "  " not in text
    assert "\n " not in text


def test_stop_string_cuts_text_before_it() -> None:
    gen = _generator()
    full = gen.generate(9, 500)
    cut = full.text.index(".")
    stopped = gen.generate(9, 500, stop=["."])
    assert stopped.finish_reason == "stop"
    assert stopped.text == full.text[:cut]
    # every token up to the one completing the stop was generated, and is counted
    assert stopped.token_ids == full.token_ids[: len(stopped.tokens)]
    assert len(stopped.tokens) < len(full.tokens)


def test_stop_string_spanning_tokens_and_earliest_of_several() -> None:
    gen = _generator()
    full = gen.generate(4, 500).text
    words = full.split(" ")
    target = " ".join(words[3:5])  # crosses token boundaries
    stopped = gen.generate(4, 500, stop=["zzz-never", target, "\n"])
    expected_cut = min(i for i in (full.find(target), full.find("\n")) if i >= 0)
    assert stopped.text == full[:expected_cut]


def test_stop_ids_end_generation_on_matching_suffix() -> None:
    gen = _generator()
    full = gen.generate(6, 100)
    sequence = full.token_ids[20:22]
    stopped = gen.generate(6, 100, stop_ids=[sequence, [999999]])
    assert stopped.finish_reason == "stop"
    assert stopped.token_ids[-2:] == sequence
    assert len(stopped.tokens) <= 22


def test_unreached_stop_and_empty_stop_are_ignored() -> None:
    result = _generator().generate(2, 50, stop=["", "@@@"])
    assert (len(result.tokens), result.finish_reason) == (50, "length")


def test_byte_fallback_tokenizer_works_too() -> None:
    gen = ProseGenerator(ByteTokenizer())
    result = gen.generate(1, 64)
    assert len(result.tokens) == 64
    assert ByteTokenizer().decode(result.token_ids) == result.text


def test_seed_from_is_stable_across_processes() -> None:
    assert seed_from(0, "glm-4-6", "Hello") == seed_from(0, "glm-4-6", "Hello")
    assert seed_from(0, "ab", "c") != seed_from(0, "a", "bc")  # parts are length-prefixed
    assert seed_from(1, "x") == 18418457873904410992  # blake2b, never Python's salted hash()
