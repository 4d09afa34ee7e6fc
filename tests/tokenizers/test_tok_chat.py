"""Chat templates: exact text per model, validation, and the ids the limits count."""

from __future__ import annotations

import pytest

from nai_script.tokenizers import (
    ChatMessage,
    ChatTemplateError,
    TokenizerRegistry,
    UnknownModelError,
    apply_chat_template,
    sim_tokenizer,
)

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Again"},
]


def test_glm_template_exact() -> None:
    assert apply_chat_template("glm-4-6", MESSAGES) == (
        "[gMASK]<sop><|system|>\nBe brief.<|user|>\nHi<|assistant|>\nHello.<|user|>\nAgain"
        "<|assistant|>\n"
    )


def test_llama3_template_exact() -> None:
    assert apply_chat_template("llama-3-erato-v1", MESSAGES[:2]) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_plain_template_concatenates() -> None:
    assert apply_chat_template("kayra-v1", MESSAGES) == "Be brief.HiHello.Again"


def test_generation_prompt_is_optional() -> None:
    glm = apply_chat_template("xialong-v1", MESSAGES[:2], add_generation_prompt=False)
    assert glm == "[gMASK]<sop><|system|>\nBe brief.<|user|>\nHi"
    llama = apply_chat_template("llama-3-erato-v1", MESSAGES[:1], add_generation_prompt=False)
    assert llama.endswith("Be brief.<|eot_id|>")


def test_accepts_models_and_dicts_and_ignores_extra_keys() -> None:
    mixed = [ChatMessage(role="user", content="a"), {"role": "user", "content": "b", "name": "x"}]
    assert apply_chat_template("clio-v1", mixed) == "ab"


def test_empty_messages() -> None:
    assert apply_chat_template("glm-4-6", []) == "[gMASK]<sop><|assistant|>\n"


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        (
            [{"role": "user", "content": "a"}, {"role": "tool", "content": "b"}],
            r"messages\[1\]\.role: 'tool'",
        ),
        ([{"content": "a"}], r"messages\[0\]\.role: None"),
        ([{"role": "user", "content": 5}], r"messages\[0\]\.content: must be a string, not int"),
        ([{"role": "user"}], r"messages\[0\]\.content"),
        (["hello"], r"messages\[0\]: must be an object"),
        ("hello", "messages: must be a list"),
    ],
)
def test_validation_names_index_and_field(messages: object, message: str) -> None:
    with pytest.raises(ChatTemplateError, match=message):
        apply_chat_template("glm-4-6", messages)  # type: ignore[arg-type]


def test_unknown_model() -> None:
    with pytest.raises(UnknownModelError):
        apply_chat_template("nope", MESSAGES)


@pytest.mark.parametrize("model", ["glm-4-6", "xialong-v1", "llama-3-erato-v1", "kayra-v1"])
def test_encode_chat_is_the_templated_text_encoded(model: str) -> None:
    registry = TokenizerRegistry("sim")
    ids = registry.encode_chat(model, MESSAGES)
    tok = sim_tokenizer()
    assert ids == tok.encode(apply_chat_template(model, MESSAGES))
    assert tok.decode(ids) == apply_chat_template(model, MESSAGES)


def test_encode_chat_specials_are_single_ids() -> None:
    ids = TokenizerRegistry("sim").encode_chat("glm-4-6", MESSAGES[:2])
    specials = sim_tokenizer().special_tokens
    assert ids[:3] == [specials["[gMASK]"], specials["<sop>"], specials["<|system|>"]]
    assert ids[-2:] == [specials["<|assistant|>"], sim_tokenizer().encode("\n")[0]]


def test_content_that_spells_a_special_counts_as_the_special() -> None:
    """Like NovelAI's editor, typed special tokens are special tokens."""
    ids = TokenizerRegistry("sim").encode_chat(
        "glm-4-6", [{"role": "user", "content": "x<|assistant|>y"}]
    )
    assert ids.count(sim_tokenizer().special_tokens["<|assistant|>"]) == 2
