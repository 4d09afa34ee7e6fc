"""Context building with the real (simulator) tokenizers: layout, trimming, limits."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nai_script.editor import context
from nai_script.editor.context import (
    ContextEntry,
    ContextInputs,
    ContextTooLarge,
    assemble_context,
    insert_authors_note,
)
from nai_script.tokenizers import TokenizerRegistry, context_size

REGISTRY = TokenizerRegistry(backend="sim")
MODEL = "glm-4-6"


def build(inputs: ContextInputs, limit: int | None = None, tier: int = 3):  # type: ignore[no-untyped-def]
    return assemble_context(inputs, model=MODEL, tier=tier, tokenizers=REGISTRY, limit=limit)


def long_story(paragraphs: int) -> str:
    return "\n".join(f"Paragraph {n} tells of the river and the mill." for n in range(paragraphs))


def test_layout_puts_each_piece_in_its_place() -> None:
    inputs = ContextInputs(
        systemPrompt="You are a novelist.",
        memory="The hero is Ada.",
        authorsNote="[Tone: grim]",
        prefill="Then",
        storyText="One.\nTwo.\nThree.\nFour.",
        lorebookEntries=[ContextEntry(id="e1", text="Ada is a smith.")],
    )
    built = build(inputs)
    assert [m.role for m in built.messages] == ["system", "user", "assistant"]
    assert built.messages[0].content == "You are a novelist.\n\nThe hero is Ada.\n\nAda is a smith."
    assert built.messages[1].content == "One.\n[Tone: grim]\nTwo.\nThree.\nFour."
    assert built.messages[2].content == "Then"
    assert built.token_count == len(REGISTRY.encode_chat(MODEL, built.plain_messages()))
    assert [p.kind for p in built.pieces] == [
        "systemPrompt",
        "memory",
        "lorebook",
        "authorsNote",
        "story",
        "prefill",
    ]
    assert not any(p.trimmed or p.dropped for p in built.pieces)


def test_empty_story_gives_one_user_message() -> None:
    built = build(ContextInputs())
    assert [m.model_dump() for m in built.messages] == [{"role": "user", "content": ""}]


def test_authors_note_placement() -> None:
    assert insert_authors_note("a\nb", "N") == "N\na\nb"
    assert insert_authors_note("", "N") == "N"
    assert insert_authors_note("a\nb\nc\nd\ne", "N") == "a\nb\nN\nc\nd\ne"
    assert insert_authors_note("a", "") == "a"


def test_story_is_trimmed_from_the_start_to_fit() -> None:
    story = long_story(3000)
    built = build(ContextInputs(systemPrompt="Sys", storyText=story), limit=400)
    assert built.token_count <= 400
    assert built.token_count >= 380, "the trim should leave the context nearly full"
    text = built.messages[1].content
    assert story.endswith(text)
    assert story[len(story) - len(text) - 1].isspace(), "the cut lands on a word boundary"
    piece = next(p for p in built.pieces if p.kind == "story")
    assert piece.trimmed


class LongestEncoded(TokenizerRegistry):
    """The real simulator tokenizers, noting the longest text ``encode`` was given."""

    longest = 0

    def encode(self, model_id: str, text: str) -> list[int]:
        self.longest = max(self.longest, len(text))
        return super().encode(model_id, text)


def test_a_long_story_is_not_encoded_whole_to_keep_its_end() -> None:
    """A Send on a 1.4 MB story encoded all of it (0.6 s, every Send) to keep 28k tokens."""
    registry = LongestEncoded(backend="sim")
    story = long_story(30_000)
    assert len(story) > 1_400_000
    built = assemble_context(
        ContextInputs(memory="Ada.", storyText=story), model=MODEL, tier=3, tokenizers=registry
    )
    assert registry.longest <= len(story) // 4
    assert built.limit - 30 <= built.token_count <= built.limit
    text = built.messages[1].content
    assert story.endswith(text)
    assert story[len(story) - len(text) - 1].isspace(), "the cut lands on a word boundary"


def test_a_too_short_first_end_is_widened_until_it_fills_the_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Text denser in characters per token than the first guess still fills the context
    (the simulator's tokenizers never pass 4 characters a token, so the guess is lowered)."""
    monkeypatch.setattr(context, "TAIL_CHARS_PER_TOKEN", 1)
    story = long_story(3000)
    built = build(ContextInputs(storyText=story), limit=2000)
    assert 1970 <= built.token_count <= 2000
    assert story.endswith(built.messages[0].content)


def test_default_limit_is_the_models_context_at_the_tier() -> None:
    story = long_story(6000)
    built = build(ContextInputs(storyText=story), tier=0)
    assert built.limit == context_size(MODEL, 0)
    assert built.limit - 30 <= built.token_count <= built.limit


def test_limit_above_the_context_is_capped() -> None:
    assert build(ContextInputs(storyText="x"), limit=10**9).limit == context_size(MODEL, 3)


def test_lorebook_entries_dropped_from_the_last_when_fixed_pieces_do_not_fit() -> None:
    entries = [ContextEntry(id=f"e{i}", text="lore " * 60) for i in range(4)]
    built = build(ContextInputs(systemPrompt="S", lorebookEntries=entries), limit=150)
    kept = [p.id for p in built.pieces if p.kind == "lorebook" and not p.dropped]
    dropped = [p.id for p in built.pieces if p.dropped]
    assert kept == ["e0"]
    assert dropped == ["e1", "e2", "e3"]
    assert built.token_count <= 150


def test_fixed_pieces_too_large_names_the_sizes() -> None:
    with pytest.raises(
        ContextTooLarge, match=r"take \d+ tokens; the context limit for glm-4-6 is 20"
    ):
        build(ContextInputs(memory="memory " * 100), limit=20)


def test_nonpositive_limit_is_refused() -> None:
    with pytest.raises(ContextTooLarge, match="at least 1 token, got 0"):
        build(ContextInputs(), limit=0)


def test_story_with_no_spaces_is_still_trimmed() -> None:
    built = build(ContextInputs(storyText="x" * 20000), limit=100)
    assert built.token_count <= 100


@settings(max_examples=30, deadline=None)
@given(
    story=st.text(alphabet=st.sampled_from("ab \n.é"), max_size=3000),
    limit=st.integers(min_value=30, max_value=600),
)
def test_result_never_exceeds_the_limit(story: str, limit: int) -> None:
    built = build(ContextInputs(systemPrompt="S", prefill="P", storyText=story), limit=limit)
    assert built.token_count <= limit
    assert story.endswith(built.messages[1].content)
