"""Legacy /ai/generate helpers (presets.py) serialise to the documented parameter names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nai_script.client.models import GenerateParameters
from nai_script.client.presets import (
    BanList,
    BiasGroup,
    GlobalSettings,
    Preset,
    SamplerId,
    build_generate_parameters,
)
from nai_script.tokenizers import sim_tokenizer

ENC = sim_tokenizer()

DOCUMENTED = {
    "temperature",
    "max_length",
    "min_length",
    "top_k",
    "top_p",
    "top_a",
    "typical_p",
    "tail_free_sampling",
    "min_p",
    "top_g",
    "cfg_scale",
    "cfg_uc",
    "mirostat_tau",
    "mirostat_lr",
    "math1_temp",
    "math1_quad",
    "math1_quad_entropy_scale",
    "repetition_penalty",
    "repetition_penalty_range",
    "repetition_penalty_slope",
    "repetition_penalty_frequency",
    "repetition_penalty_presence",
    "repetition_penalty_whitelist",
    "repetition_penalty_default_whitelist",
    "phrase_rep_pen",
    "order",
    "stop_sequences",
    "bad_words_ids",
    "logit_bias_exp",
    "generate_until_sentence",
    "num_logprobs",
    "return_full_text",
    "use_cache",
    "use_string",
    "prefix",
    "length_penalty",
    "diversity_penalty",
}

PRESET_FILE = {
    "name": "Carefree",
    "model": "kayra-v1",
    "parameters": {
        "textGenerationSettingsVersion": 3,
        "temperature": 1.35,
        "max_length": 40,
        "min_length": 1,
        "top_k": 15,
        "top_a": 0.1,
        "tail_free_sampling": 0.915,
        "repetition_penalty": 2.8,
        "repetition_penalty_range": 2048,
        "repetition_penalty_slope": 0.02,
        "repetition_penalty_frequency": 0.02,
        "repetition_penalty_presence": 0,
        "phrase_rep_pen": "aggressive",
        "min_p": 0.05,
        "math1_temp": 0.3,
        "math1_quad": 0.02,
        "math1_quad_entropy_scale": -0.05,
        "bad_words_ids": [[1]],
        "order": [
            {"id": "top_k", "enabled": True},
            {"id": "temperature", "enabled": True},
            {"id": "tfs", "enabled": True},
            {"id": "top_a", "enabled": True},
            {"id": "math1", "enabled": True},
            {"id": "min_p", "enabled": True},
            {"id": "top_p", "enabled": False},
            {"id": "typical_p", "enabled": False},
        ],
    },
}


def test_sampler_ids() -> None:
    assert [int(s) for s in SamplerId] == list(range(11))
    assert SamplerId.MATH1 == 9
    assert SamplerId.MIN_P == 10


def test_preset_file_serialises_to_documented_names() -> None:
    params = Preset.from_preset_file(PRESET_FILE).to_parameters()
    assert set(params) <= DOCUMENTED
    assert params["order"] == [1, 0, 3, 4, 9, 10]
    assert "top_p" not in params  # disabled sampler's fields dropped
    assert "typical_p" not in params
    assert params["min_p"] == 0.05
    assert params["math1_quad_entropy_scale"] == -0.05
    assert params["phrase_rep_pen"] == "aggressive"
    assert "name" not in params
    assert "textGenerationSettingsVersion" not in params
    assert "bad_words_ids" not in params  # preset-file bans go through BanList
    GenerateParameters.model_validate(params)


def test_zero_range_and_slope_dropped() -> None:
    params = Preset().to_parameters()
    assert "repetition_penalty_range" not in params
    assert "repetition_penalty_slope" not in params
    assert params["order"] == [0, 1, 2, 3, 4, 5]


def test_bad_preset_values_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"order\.0\.id\n.*unknown sampler 'warp'"):
        Preset.model_validate({"order": [{"id": "warp"}]})
    with pytest.raises(ValidationError, match="max_length"):
        Preset(max_length=0)
    with pytest.raises(ValidationError, match="phrase_rep_pen"):
        Preset.model_validate({"phrase_rep_pen": "extreme"})


def test_ban_list_and_bias_group_tokenized_per_model() -> None:
    ban = BanList(sequences=["dragon", [5, 6]])
    assert ban.to_bad_words_ids(ENC) == [ENC.encode("dragon"), [5, 6]]
    assert BanList(sequences=["x"], enabled=False).to_bad_words_ids(ENC) == []
    group = BiasGroup.model_validate(
        {
            "bias": -0.5,
            "ensureSequenceFinish": True,
            "generateOnce": True,
            "phrases": [{"sequence": "sword"}, {"sequences": [[7, 8]]}, "plain"],
        }
    )
    entries = group.to_logit_bias_exp(ENC)
    assert entries[0] == {
        "sequence": ENC.encode("sword"),
        "bias": -0.5,
        "ensure_sequence_finish": True,
        "generate_once": True,
    }
    assert entries[1]["sequence"] == [7, 8]
    assert len(entries) == 3


def test_global_settings() -> None:
    params = GlobalSettings(
        num_logprobs=-1, rep_pen_whitelist=True, bias_dinkus_asterism=True
    ).to_parameters(ENC)
    assert "num_logprobs" not in params
    assert params["bad_words_ids"]  # bracket ban on by default
    assert ENC.encode("[") in params["bad_words_ids"]
    assert params["repetition_penalty_whitelist"] == sorted(
        set(params["repetition_penalty_whitelist"])
    )
    assert params["logit_bias_exp"][0]["bias"] == -0.12
    assert GlobalSettings(ban_brackets=False).to_parameters(ENC)["bad_words_ids"] == []


def test_full_parameters_validate_against_the_wire_model() -> None:
    params = build_generate_parameters(
        "kayra-v1",
        ENC,
        preset=Preset.from_preset_file(PRESET_FILE),
        ban_lists=[BanList(sequences=["cat"])],
        bias_groups=[BiasGroup(bias=1.0, phrases=["dog"])],
        stop_sequences=["\n\n", [3]],
        prefix="special_instruct",
    )
    assert set(params) <= DOCUMENTED
    assert params["stop_sequences"] == [ENC.encode("\n\n"), [3]]
    assert ENC.encode("cat") in params["bad_words_ids"]
    assert params["prefix"] == "special_instruct"
    wire = GenerateParameters.model_validate(params)
    assert wire.logit_bias_exp is not None
    assert wire.logit_bias_exp[0].sequence == ENC.encode("dog")


def test_modules_per_model() -> None:
    with pytest.raises(ValueError, match="prefix: 'special_instruct' is not a module of clio-v1"):
        build_generate_parameters("clio-v1", ENC, prefix="special_instruct")
    assert build_generate_parameters("clio-v1", ENC, prefix="abc:def")["prefix"] == "abc:def"
