"""Train the simulator's byte-level BPE tokenizer from the project's own corpus.

    python tools/build_sim_tokenizer.py            # writes nai_script/tokenizers/data/...
    python tools/build_sim_tokenizer.py --check    # exit 1 if the committed file is stale

The corpus is ``tools/sim_corpus/``: prose written for this project plus sentences generated
from our own word lists with a fixed seed. Training is deterministic: same corpus, same file
(byte-level alphabet fixed up front, single-threaded training, stable serialisation).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

# Single-threaded so merge ties can never depend on scheduling; set before tokenizers loads.
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nai_script.tokenizers.chat import render_chat  # noqa: E402
from nai_script.tokenizers.models import ChatTemplateKind  # noqa: E402
from nai_script.tokenizers.sim import (  # noqa: E402
    SIM_SPECIAL_TOKENS,
    SIM_TOKENIZER_FILE,
    SIM_VOCAB_SIZE,
)

CORPUS_DIR = ROOT / "tools" / "sim_corpus"
OUTPUT = ROOT / "nai_script" / "tokenizers" / "data" / SIM_TOKENIZER_FILE
SEED = 20260601
GENERATED_SENTENCES = 40_000


def invent_name(rng: random.Random, lex: dict[str, list[str]]) -> str:
    syllables = rng.choice((1, 2, 2, 3))
    parts = [
        rng.choice(lex["names_onset"]) + rng.choice(lex["names_vowel"]) for _ in range(syllables)
    ]
    return ("".join(parts) + rng.choice(lex["names_coda"])).capitalize()


def sentence(rng: random.Random, lex: dict[str, list[str]]) -> str:
    """One sentence from a handful of shapes, filled from the word lists."""
    name = invent_name(rng, lex)
    noun = rng.choice(lex["nouns"])
    other = rng.choice(lex["nouns"])
    adj = rng.choice(lex["adjectives"])
    shape = rng.randrange(9)
    if shape == 0:
        return f"{rng.choice(lex['time_phrases'])}, {name} {rng.choice(lex['verbs_past'])} the {adj} {noun} {rng.choice(lex['places'])}."
    if shape == 1:
        return f'"{rng.choice(lex["speech"])}" {name} {rng.choice(lex["said"])} {rng.choice(lex["adverbs"])}.'
    if shape == 2:
        return f"The {adj} {noun} {rng.choice(lex['verbs_present'])} for the {other}, and nobody knows why."
    if shape == 3:
        return f"{name} and {invent_name(rng, lex)} {rng.choice(lex['verbs_past'])} {rng.choice(lex['places'])} until the {noun} was {adj}."
    if shape == 4:
        return f"{rng.randint(1, 9999)} {noun}s, {rng.randint(0, 99)}.{rng.randint(0, 99):02d} {other}s and {rng.randint(1, 12)}:{rng.randint(0, 59):02d} on {rng.randint(1900, 2099)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}."
    if shape == 5:
        return f"In {rng.choice(lex['foreign'])} the {noun} is {rng.choice(lex['foreign'])}, {name} {rng.choice(lex['said'])}."
    if shape == 6:
        return "\n".join(rng.choice(lex["code_lines"]) for _ in range(rng.randint(2, 5)))
    if shape == 7:
        return f"{name.upper()}: {rng.choice(lex['speech'])}\n{invent_name(rng, lex).upper()}: {rng.choice(lex['speech'])}"
    return f"Why is the {noun} so {adj}? Because the {other} {rng.choice(lex['verbs_past'])} {rng.choice(lex['adverbs'])}!"


def chat_sample(rng: random.Random, lex: dict[str, list[str]]) -> str:
    """Chat-templated text, so the text around the specials trains like real prompts."""
    messages = [
        {"role": role, "content": sentence(rng, lex)} for role in ("system", "user", "assistant")
    ]
    kind: ChatTemplateKind = "glm" if rng.random() < 0.5 else "llama3"
    return render_chat(kind, messages, add_generation_prompt=False)


def corpus() -> Iterator[str]:
    lex = json.loads((CORPUS_DIR / "lexicon.json").read_text(encoding="utf-8"))
    prose = (CORPUS_DIR / "prose.txt").read_text(encoding="utf-8")
    for _ in range(20):  # weight the hand-written prose above the generated sentences
        yield from prose.split("\n\n")
    rng = random.Random(SEED)
    for index in range(GENERATED_SENTENCES):
        yield chat_sample(rng, lex) if index % 10 == 0 else sentence(rng, lex)


def build() -> str:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=SIM_VOCAB_SIZE,
        min_frequency=2,
        special_tokens=list(SIM_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(), trainer=trainer)
    return tokenizer.to_str(pretty=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    text = build()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run tools/build_sim_tokenizer.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    vocab = Tokenizer.from_str(text).get_vocab_size(with_added_tokens=True)
    print(f"wrote {args.output} ({vocab} tokens, {len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
