"""Deterministic pseudo-prose: readable sentences from the project's own word list, turned
into real token ids by the simulator tokenizer.

The same key (seed + model + prompt) always yields the same token stream, and a shorter
``max_tokens`` yields a prefix of a longer one, so streamed and non-streamed answers agree.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal

from nai_script.sim.tokens import SimTokenizer

FinishReason = Literal["length", "stop"]

_TEMPLATES: tuple[str, ...] = (
    "The {adjective} {noun} {verb} {preposition} the {noun}.",
    "{name} {verb} the {adjective} {noun} {adverb}.",
    "In {place}, the {noun} {verb} {preposition} the {adjective} {noun}.",
    '"The {noun} is {adjective}," {name} said {adverb}.',
    "{name} {verb} {preposition} the {noun}, and the {noun} {verb} {adverb}.",
    "Somewhere {preposition} the {adjective} {noun}, a {noun} {verb}.",
)


@lru_cache(maxsize=1)
def load_word_list() -> dict[str, tuple[str, ...]]:
    """Sections of ``words.txt``: ``[name]`` headers, words separated by whitespace."""
    text = resources.files("nai_script.sim").joinpath("words.txt").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None:
            current.extend(line.split())
    return {name: tuple(words) for name, words in sections.items()}


def seed_from(*parts: str | int | bytes) -> int:
    """A stable 64-bit seed from request parts (never Python's randomized ``hash``)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8")
        digest.update(len(data).to_bytes(4, "little"))
        digest.update(data)
    return int.from_bytes(digest.digest(), "little")


@dataclass(frozen=True)
class GeneratedToken:
    id: int
    text: str  # the text this token adds to the answer (clipped where a stop string begins)


@dataclass(frozen=True)
class Generation:
    tokens: tuple[GeneratedToken, ...]
    finish_reason: FinishReason

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)

    @property
    def token_ids(self) -> list[int]:
        return [t.id for t in self.tokens]


class ProseGenerator:
    """Turns a seed into a token stream; cheap enough to precompute a whole answer."""

    def __init__(self, tokenizer: SimTokenizer) -> None:
        self._tokenizer = tokenizer
        self._words = load_word_list()
        self._piece_cache: dict[str, tuple[GeneratedToken, ...]] = {}

    def _pieces(self, rng: random.Random) -> Iterator[str]:
        sentences_left = rng.randint(3, 6)
        lead = " "  # the answer continues the prompt; a paragraph starts flush
        while True:
            template = rng.choice(_TEMPLATES)
            sentence = _fill(template, self._words, rng)
            for word in sentence.split(" "):
                yield lead + word
                lead = " "
            sentences_left -= 1
            if sentences_left == 0:
                yield "\n"
                lead = ""
                sentences_left = rng.randint(3, 6)

    def _tokens_of(self, piece: str) -> tuple[GeneratedToken, ...]:
        cached = self._piece_cache.get(piece)
        if cached is None:
            ids = self._tokenizer.encode(piece)
            cached = tuple(GeneratedToken(i, self._tokenizer.decode([i])) for i in ids)
            self._piece_cache[piece] = cached
        return cached

    def generate(
        self,
        seed: int,
        max_tokens: int,
        stop: Sequence[str] = (),
        stop_ids: Sequence[Sequence[int]] = (),
    ) -> Generation:
        """Up to ``max_tokens`` tokens; ends early (``stop``) when a stop string appears in the
        text (which is cut before it) or the ids end with one of ``stop_ids``."""
        rng = random.Random(seed)
        stops = [s for s in stop if s]
        id_stops = [list(s) for s in stop_ids if s]
        longest = max((len(s) for s in stops), default=0)
        out: list[GeneratedToken] = []
        text = ""
        if max_tokens <= 0:
            return Generation((), "length")
        for piece in self._pieces(rng):
            for token in self._tokens_of(piece):
                before = len(text)
                text += token.text
                cut = _find_stop(text, stops, max(0, before - longest + 1)) if stops else -1
                if cut >= 0:
                    out.append(GeneratedToken(token.id, token.text[: max(0, cut - before)]))
                    return Generation(_clip_earlier(out, cut), "stop")
                out.append(token)
                if id_stops and _ends_with_any([t.id for t in out[-50:]], id_stops):
                    return Generation(tuple(out), "stop")
                if len(out) >= max_tokens:
                    return Generation(tuple(out), "length")
        raise AssertionError("unreachable: the piece stream is endless")


def _fill(template: str, words: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    parts = template.split("{")
    filled = [parts[0]]
    for part in parts[1:]:
        name, rest = part.split("}", 1)
        filled.append(rng.choice(words[name]) + rest)
    sentence = "".join(filled)
    return sentence[0].upper() + sentence[1:] if sentence[0].isalpha() else sentence


def _find_stop(text: str, stops: list[str], start: int) -> int:
    hits = [pos for s in stops if (pos := text.find(s, start)) >= 0]
    return min(hits) if hits else -1


def _clip_earlier(tokens: list[GeneratedToken], cut: int) -> tuple[GeneratedToken, ...]:
    """A stop string may start inside an earlier token: clip every token's text at ``cut``."""
    clipped: list[GeneratedToken] = []
    offset = 0
    for token in tokens:
        keep = max(0, min(len(token.text), cut - offset))
        offset += len(token.text)
        clipped.append(
            token if keep == len(token.text) else GeneratedToken(token.id, token.text[:keep])
        )
    return tuple(clipped)


def _ends_with_any(ids: list[int], sequences: list[list[int]]) -> bool:
    return any(len(ids) >= len(s) and ids[-len(s) :] == s for s in sequences)
