"""``nai-script image`` end to end as a subprocess against the in-process simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from image_helpers import run_image_cli

from nai_script.cli.main import main
from nai_script.client.image_zip import PNG_SIGNATURE, png_size


def test_writes_numbered_pngs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_image_cli(
        "--prompt",
        "a lighthouse",
        "--character",
        "keeper@C3|sad",
        "--character",
        "gull",
        "--size",
        "192x128",
        "--samples",
        "3",
        "--seed",
        "77",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == ["77_0.png", "77_1.png", "77_2.png"]
    for name in files:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert png_size(data) == (192, 128)
    assert "SIMULATOR" in result.stderr
    assert "[3/3] wrote" in result.stderr


def test_a_second_run_with_the_same_seed_keeps_the_first_runs_pictures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for prompt in ("a lighthouse", "a harbour"):
        result = run_image_cli(
            "--prompt", prompt, "--samples", "2", "--seed", "9", "--out", str(out), cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["9_0-2.png", "9_0.png", "9_1-2.png", "9_1.png"]
    assert "wrote " + str(out / "9_1-2.png") in result.stderr


def test_dry_run_prints_request_and_sends_nothing(tmp_path: Path) -> None:
    result = run_image_cli(
        "--prompt",
        "p",
        "--negative",
        "n",
        "--character",
        "a@E1",
        "--seed",
        "5",
        "--model",
        "nai-diffusion-4-full",
        "--sampler",
        "nai_smea",
        "--dry-run",
        "--base-url",
        "http://127.0.0.1:9",
        cwd=tmp_path,  # nothing listens: must not connect
    )
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["model"] == "nai-diffusion-4-full"
    assert body["parameters"]["seed"] == 5
    assert body["parameters"]["sampler"] == "k_euler_ancestral"
    assert body["parameters"]["sm"] is True
    caps = body["parameters"]["v4_prompt"]["caption"]["char_captions"]
    assert caps == [{"char_caption": "a", "centers": [{"x": 0.9, "y": 0.1}]}]
    assert list(tmp_path.iterdir()) == []


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    result = run_image_cli("--prompt", "p", "--size", "100x64", "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "nai-script: error: invalid image request: --size (width): Input should be a multiple "
        "of 64 (got 100)\n"
    )
    result = run_image_cli("--prompt", "p", "--size", "big", cwd=tmp_path)
    assert result.returncode == 2
    assert "--size" in result.stderr
    result = run_image_cli("--prompt", "p", "--character", "x@Z9", "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    assert "not a grid cell" in result.stderr


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--samples", "5"], "--samples: Input should be less than or equal to 4 (got 5)"),
        (["--steps", "0"], "--steps: Input should be greater than or equal to 1 (got 0)"),
        (["--size", "64x4096"], "--size (height): Input should be less than or equal to 2048"),
        (["--scale", "10.5"], "--scale: Input should be less than or equal to 10 (got 10.5)"),
        (["--seed", "-1"], "--seed: Input should be greater than or equal to 0 (got -1)"),
        (["--character", "x@F1"], "--character 'x@F1': 'F1' is not a grid cell"),
        (["--model", "nai-diffusion-3", "--character", "a"], "--character: nai-diffusion-3"),
    ],
)
def test_a_refused_value_names_the_flag_not_the_wire_field(
    tmp_path: Path, flags: list[str], named: str
) -> None:
    """``--samples 5`` was refused as 'parameters.n_samples', a name the user never typed."""
    result = run_image_cli("--prompt", "p", "--dry-run", *flags, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"nai-script: error: invalid image request: {named}")
    assert result.stderr.count("\n") == 1
    assert "parameters." not in result.stderr


def test_openai_backend_is_refused_before_anything_is_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NAI_TOKEN", "NAI_SCRIPT_BACKEND", "NAI_SCRIPT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    argv = ["image", "--prompt", "p", "--out", str(out), "--backend", "openai"]
    code = main([*argv, "--base-url", "http://127.0.0.1:9"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        "nai-script: error: image generation needs the sim or novelai backend"
    )
    assert not out.exists()
