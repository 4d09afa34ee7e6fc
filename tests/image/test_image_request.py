"""Request building for every model family, and every refusal naming its field (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from nai_script.client.image import CharacterSpec, build_image_request
from nai_script.client.image_models import (
    ImageModelName,
    ImageRequestError,
    Sampler,
    parse_image_request,
)

V4 = ["nai-diffusion-4-5-full", "nai-diffusion-4-5-curated", "nai-diffusion-4-full"]
OLD = ["nai-diffusion-3", "nai-diffusion-2", "nai-diffusion"]


@pytest.mark.parametrize("model", V4)
def test_v4_family_builds_structured_captions(model: str) -> None:
    req = build_image_request(
        "scene", negative="blurry", characters=["girl@E1|sad", "boy"], model=model, seed=7
    ).wire()
    params = req["parameters"]
    assert req["model"] == model
    assert req["input"] == "scene"
    assert req["action"] == "generate"
    pos = params["v4_prompt"]
    neg = params["v4_negative_prompt"]
    assert pos["caption"]["base_caption"] == "scene"
    assert neg["caption"]["base_caption"] == "blurry"
    assert [c["char_caption"] for c in pos["caption"]["char_captions"]] == ["girl", "boy"]
    assert [c["char_caption"] for c in neg["caption"]["char_captions"]] == ["sad", ""]
    centers = [c["centers"] for c in pos["caption"]["char_captions"]]
    assert centers == [[{"x": 0.9, "y": 0.1}], [{"x": 0.1, "y": 0.1}]]
    assert [c["centers"] for c in neg["caption"]["char_captions"]] == centers
    assert pos["use_coords"] is True
    assert params["use_coords"] is True
    assert pos["use_order"] is True
    assert neg["legacy_uc"] is False


def test_v4_without_positions_does_not_use_coords() -> None:
    params = build_image_request("x", characters=["a", "b", "c"]).wire()["parameters"]
    assert params["v4_prompt"]["use_coords"] is False
    cells = [c["centers"][0] for c in params["v4_prompt"]["caption"]["char_captions"]]
    assert cells == [{"x": 0.1, "y": 0.1}, {"x": 0.9, "y": 0.9}, {"x": 0.5, "y": 0.5}]


def test_v4_no_characters() -> None:
    params = build_image_request("x").wire()["parameters"]
    assert params["v4_prompt"]["caption"]["char_captions"] == []
    assert params["v4_negative_prompt"]["caption"]["char_captions"] == []


@pytest.mark.parametrize("model", OLD)
def test_old_family_plain_negative(model: str) -> None:
    params = build_image_request("x", negative="bad", model=model).wire()["parameters"]
    assert params["negative_prompt"] == "bad"
    assert not {"v4_prompt", "v4_negative_prompt", "characterPrompts"} & set(params)


@pytest.mark.parametrize("model", OLD)
def test_old_family_refuses_characters(model: str) -> None:
    with pytest.raises(ImageRequestError, match=r"characters: .* takes no characters"):
        build_image_request("x", model=model, characters=["a"])


@pytest.mark.parametrize(
    ("sampler", "sm", "sm_dyn"),
    [("nai_smea", True, False), ("nai_smea_dyn", True, True), ("k_euler", False, False)],
)
def test_smea_aliases(sampler: str, sm: bool, sm_dyn: bool) -> None:
    params = build_image_request("x", sampler=sampler, model="nai-diffusion-3").wire()["parameters"]
    assert params["sampler"] == ("k_euler" if sampler == "k_euler" else "k_euler_ancestral")
    assert (params["sm"], params["sm_dyn"]) == (sm, sm_dyn)


def test_all_fifteen_samplers_accepted() -> None:
    assert len(Sampler) == 15
    for sampler in Sampler:
        build_image_request("x", sampler=sampler.value)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"width": 100}, r"parameters\.width: .*multiple of 64 \(got 100\)"),
        ({"width": 0}, r"parameters\.width: .*greater than or equal to 64"),
        ({"height": 2112}, r"parameters\.height: .*less than or equal to 2048"),
        ({"steps": 0}, r"parameters\.steps: .*greater than or equal to 1"),
        ({"steps": 51}, r"parameters\.steps: .*less than or equal to 50"),
        ({"scale": 10.5}, r"parameters\.scale: .*less than or equal to 10"),
        ({"scale": -1}, r"parameters\.scale: .*greater than or equal to 0"),
        ({"seed": -1}, r"parameters\.seed: .*greater than or equal to 0"),
        ({"seed": 10_000_000_000}, r"parameters\.seed: .*less than or equal to 9999999999"),
        ({"n_samples": 5}, r"parameters\.n_samples: .*less than or equal to 4"),
        ({"n_samples": 0}, r"parameters\.n_samples: .*greater than or equal to 1"),
        ({"sampler": "euler"}, r"parameters\.sampler: .*'k_lms'.*'k_dpm_fast'"),
        (
            {"noise_schedule": "linear"},
            r"parameters\.noise_schedule: .*'native'.*'polyexponential'",
        ),
        (
            {"model": "nai-diffusion-9"},
            r"model: 'nai-diffusion-9' is not an image model \(allowed:",
        ),
        ({"action": "upscale"}, r"action: .*'generate', 'img2img' or 'infill'"),
        ({"action": "img2img"}, r"parameters\.image: required for action img2img"),
        (
            {"action": "infill", "extra": {"image": "AAAA"}},
            r"parameters\.mask: required for action infill",
        ),
        ({"characters": ["girl@F9"]}, r"character 'girl@F9': 'F9' is not a grid cell"),
        ({"characters": ["@C3"]}, r"the description is empty"),
        ({"characters": ["x"] * 6}, r"6 character\(s\) without a position but only 5"),
        ({"extra": {"cfg_rescale": 2}}, r"parameters\.cfg_rescale: .*less than or equal to 1"),
    ],
)
def test_invalid_requests_name_the_field(kwargs: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ImageRequestError, match=pattern):
        build_image_request("x", **kwargs)


def test_img2img_and_infill_valid() -> None:
    req = build_image_request("x", action="img2img", extra={"image": "AAAA", "strength": 0.7})
    assert req.wire()["action"] == "img2img"
    req = build_image_request("x", action="infill", extra={"image": "AAAA", "mask": "BBBB"})
    assert req.wire()["parameters"]["mask"] == "BBBB"


def test_unknown_fields_pass_through() -> None:
    extra = {
        "prefer_brownian": True,
        "params_version": 3,
        "skip_cfg_above_sigma": None,
        "x_new": [1],
    }
    params = build_image_request("x", extra=extra).wire()["parameters"]
    assert params["prefer_brownian"] is True
    assert params["x_new"] == [1]
    raw = build_image_request("x").wire()
    raw["use_new_shared_trial"] = True
    assert parse_image_request(raw).wire()["use_new_shared_trial"] is True


def _raw_v4(pos_caps: list[Any], neg_caps: list[Any]) -> dict[str, Any]:
    return {
        "input": "x",
        "model": ImageModelName.V4_FULL.value,
        "parameters": {
            "v4_prompt": {"caption": {"base_caption": "x", "char_captions": pos_caps}},
            "v4_negative_prompt": {"caption": {"base_caption": "", "char_captions": neg_caps}},
        },
    }


C3 = [{"x": 0.5, "y": 0.5}]


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        (
            _raw_v4([{"char_caption": "a", "centers": []}], [{"char_caption": "", "centers": []}]),
            r"char_captions\.0\.centers: List should have at least 1 item",
        ),
        (
            _raw_v4([{"char_caption": "a", "centers": C3}], []),
            r"0 negative char caption\(s\) for 1 positive one\(s\)",
        ),
        (
            _raw_v4(
                [{"char_caption": "a", "centers": C3}],
                [{"char_caption": "", "centers": [{"x": 0.1, "y": 0.1}]}],
            ),
            r"char_captions\[0\]\.centers: must equal",
        ),
        (
            _raw_v4(
                [{"char_caption": "a", "centers": [{"x": 0.95, "y": 0.5}]}],
                [{"char_caption": "", "centers": [{"x": 0.95, "y": 0.5}]}],
            ),
            r"centers\.0\.x: .*less than or equal to 0\.9",
        ),
        (
            {"input": "x", "model": "nai-diffusion-4-full", "parameters": {}},
            r"parameters\.v4_prompt: required for nai-diffusion-4-full",
        ),
        (
            {"input": "x", "model": "nai-diffusion-3", "parameters": _raw_v4([], [])["parameters"]},
            r"parameters\.v4_prompt: only V4 models",
        ),
    ],
)
def test_raw_request_structure(raw: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ImageRequestError, match=pattern):
        parse_image_request(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("girl", CharacterSpec(prompt="girl")),
        ("girl@c3", CharacterSpec(prompt="girl", position="C3")),
        ("girl|sad", CharacterSpec(prompt="girl", negative="sad")),
        (
            "red hair, girl @ B2 | sad, ugly",
            CharacterSpec(prompt="red hair, girl", position="B2", negative="sad, ugly"),
        ),
        ("mail@example@A1", CharacterSpec(prompt="mail@example", position="A1")),
        # An @ not followed by something cell-shaped is part of the description.
        ("girl texting @sam", CharacterSpec(prompt="girl texting @sam")),
        ("girl @ the beach|sad", CharacterSpec(prompt="girl @ the beach", negative="sad")),
        ("girl@", CharacterSpec(prompt="girl")),
        ("@sam@B2", CharacterSpec(prompt="@sam", position="B2")),
    ],
)
def test_character_spec_parse(text: str, expected: CharacterSpec) -> None:
    assert CharacterSpec.parse(text) == expected
