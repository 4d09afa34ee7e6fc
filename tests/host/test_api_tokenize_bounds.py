"""Tokenizing what a script hands over is bounded and stays off the event loop: one script's
15 MB ``tokenizer.encode`` once stalled the host for 18 s and took it to 2.7 GB."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from host_helpers import REGISTRY, TRY, hosted

from nai_script.host.api.tokens import MAX_TOKENIZED_CHARS
from nai_script.tokenizers import TokenizerRegistry
from nai_script.tokenizers.hf import GIL_FREE_CHARS
from nai_script.tokenizers.registry import OFF_LOOP_CHARS

OVER = MAX_TOKENIZED_CHARS + 1


async def test_text_over_the_bound_is_refused_naming_the_call_and_the_bound(
    tmp_path: Path,
) -> None:
    source = TRY + (
        f"big = 'a' * {OVER}\n"
        "await ta('encode', lambda: api.v1.tokenizer.encode(big, 'glm-4-6'))\n"
        "t('count', lambda: api.v1.script.countUncachedInputTokens("
        "[{'role': 'user', 'content': big}]))\n"
        "await ta('generate', lambda: api.v1.generate("
        "[{'role': 'user', 'content': big}], {'model': 'glm-4-6', 'max_tokens': 5}))\n"
        "h = api.v1.createRolloverHelper({'maxTokens': 5, 'model': 'glm-4-6'})\n"
        "await ta('rollover', lambda: h.add({'content': big}))\n"
        "api.v1.log('output left', api.v1.script.getAllowedOutput())\n"
        "api.v1.log('small', len(await api.v1.tokenizer.encode('a' * 1000, 'glm-4-6')) > 0)\n"
    )
    async with hosted(tmp_path) as env:
        script = await env.run(source)
        lines = env.lines()
        bound = f"one call may tokenize at most {MAX_TOKENIZED_CHARS:,}"
        for label, head in (
            ("encode", "tokenizer.encode text:"),
            ("count", "script.countUncachedInputTokens messages:"),
            ("generate", "generate messages:"),
            ("rollover", "rolloverHelper.add content:"),
        ):
            line = next(x for x in lines if x.startswith(f"{label} "))
            assert line.startswith(f"{label} ValueError {head}"), line
            assert bound in line, line
        assert "output left 2048" in lines  # the refused generate cost nothing
        assert "small True" in lines
        assert script.worker is not None
        assert script.worker.exit_reason is None


async def test_long_texts_are_tokenized_on_a_thread_short_ones_at_once() -> None:
    registry = TokenizerRegistry(backend="sim")
    tokenizer = registry.get("glm-4-6")
    threads: list[int] = []
    real = tokenizer.encode

    def recording(text: str) -> list[int]:
        threads.append(threading.get_ident())
        return real(text)

    tokenizer.encode = recording  # type: ignore[method-assign]
    short = await registry.encode_async("glm-4-6", "a" * (OFF_LOOP_CHARS - 1))
    long = await registry.encode_async("glm-4-6", "a" * OFF_LOOP_CHARS)
    assert threads[0] == threading.get_ident()
    assert threads[1] != threading.get_ident()
    assert short
    assert long


@pytest.mark.parametrize("chars", [GIL_FREE_CHARS - 1, GIL_FREE_CHARS, 3 * GIL_FREE_CHARS])
def test_the_gil_free_path_gives_the_same_ids(chars: int) -> None:
    """Long texts take the library's batch call (it releases the GIL); the ids must be those
    of its single-text call, specials included."""
    tokenizer = REGISTRY.get("glm-4-6")
    words = "The lighthouse keeper <|user|> counted [gMASK] waves, naïve, 日本語. "
    text = (words * (chars // len(words) + 1))[:chars]
    raw = tokenizer.raw.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
    assert tokenizer.encode(text) == raw
