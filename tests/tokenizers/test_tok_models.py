"""The model table and its lookups."""

from __future__ import annotations

import pytest

from nai_script.tokenizers import (
    MODELS,
    Tier,
    UnknownModelError,
    context_size,
    model_info,
    rollover_tokens,
)


def test_every_issue_model_is_listed() -> None:
    assert set(MODELS) == {
        "glm-4-6",
        "xialong-v1",
        "llama-3-erato-v1",
        "kayra-v1",
        "clio-v1",
        "nai-sim-v1",
    }


def test_spec_fixed_values() -> None:
    assert context_size("xialong-v1", Tier.OPUS) == 28672
    assert rollover_tokens("xialong-v1", 3) == 8192
    assert model_info("llama-3-erato-v1").token_width == 4
    assert all(m.token_width == 2 for m in MODELS.values() if m.id != "llama-3-erato-v1")


@pytest.mark.parametrize(
    ("model", "tier", "size"),
    [
        ("kayra-v1", Tier.TABLET, 3072),
        ("kayra-v1", Tier.SCROLL, 6144),
        ("kayra-v1", Tier.OPUS, 8192),
        ("clio-v1", Tier.PAPER, 8192),
        ("clio-v1", Tier.TABLET, 8192),
        ("llama-3-erato-v1", Tier.OPUS, 8192),
    ],
)
def test_documented_context_sizes(model: str, tier: Tier, size: int) -> None:
    assert context_size(model, tier) == size


def test_simulator_model_mirrors_glm_4_6_at_every_tier() -> None:
    for tier in Tier:
        assert context_size("nai-sim-v1", tier) == context_size("glm-4-6", tier)
        assert rollover_tokens("nai-sim-v1", tier) == rollover_tokens("glm-4-6", tier)
    assert (context_size("glm-4-6", Tier.SCROLL), rollover_tokens("glm-4-6", Tier.OPUS)) == (
        16384,
        8192,
    )


def test_models_without_rollover_report_zero() -> None:
    assert rollover_tokens("kayra-v1", Tier.OPUS) == 0


def test_templates_per_model() -> None:
    assert model_info("glm-4-6").chat_template == "glm"
    assert model_info("llama-3-erato-v1").chat_template == "llama3"
    assert model_info("kayra-v1").chat_template == "plain"


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"unknown model 'gpt-9'.*glm-4-6.*kayra-v1"):
        context_size("gpt-9", 3)


def test_model_not_offered_at_tier_names_the_tiers() -> None:
    with pytest.raises(UnknownModelError, match=r"not offered at tier 2 \(Scroll\).*Opus"):
        context_size("llama-3-erato-v1", Tier.SCROLL)
    with pytest.raises(UnknownModelError, match="tier 0"):
        rollover_tokens("xialong-v1", 0)


def test_bad_tier_is_named() -> None:
    with pytest.raises(ValueError, match=r"tier: 7 is not a NovelAI tier"):
        context_size("kayra-v1", 7)
