"""``nai-script tokenize`` / ``decode``: output forms, the seed's base64 form, one-line errors."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from nai_script.cli.main import main
from nai_script.cli.tokenize_cmd import RETIRED
from nai_script.client.codec import pack_token_ids
from nai_script.sim.catalog import TEXT_MODELS
from nai_script.tokenizers import MODELS, sim_tokenizer


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def _sim_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "NAI_SCRIPT_BACKEND",
        "NAI_SCRIPT_BASE_URL",
        "NAI_TOKEN",
        "NAI_SCRIPT_TOKENIZER_DIR",
    ):
        monkeypatch.delenv(name, raising=False)


def test_tokenize_prints_ids(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["tokenize", "Hi<|endoftext|>there", "--model", "glm-4-6"], capsys)
    assert code == 0
    expected = sim_tokenizer().encode("Hi<|endoftext|>there")
    assert out.strip() == ",".join(map(str, expected))


def test_tokenize_count_and_b64(capsys: pytest.CaptureFixture[str]) -> None:
    ids = sim_tokenizer().encode("Hello world")
    _, out, _ = run(["tokenize", "Hello world", "--model", "kayra-v1", "--count"], capsys)
    assert out.strip() == str(len(ids))
    _, out, _ = run(["tokenize", "Hello world", "--model", "llama-3-erato-v1", "--b64"], capsys)
    assert out.strip() == pack_token_ids(ids, 4)


def test_tokenize_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    _, out, _ = run(["tokenize", "-", "--model", "glm-4-6", "--count"], capsys)
    assert out.strip() == str(len(sim_tokenizer().encode("from stdin\n")))


@pytest.mark.parametrize("form", ["{c}", "{s}", "[{c}]", " {s} "])
def test_decode_id_lists(form: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = "naïve<|user|>\ncafé"
    ids = sim_tokenizer().encode(text)
    arg = form.format(c=",".join(map(str, ids)), s=" ".join(map(str, ids)))
    code, out, _ = run(["decode", arg, "--model", "glm-4-6"], capsys)
    assert code == 0
    assert out == text + "\n"


@pytest.mark.parametrize(("model", "width"), [("kayra-v1", 2), ("llama-3-erato-v1", 4)])
def test_decode_seed_base64_form(
    model: str, width: int, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = sim_tokenizer().encode("Once upon a time")
    code, out, _ = run(["decode", model, pack_token_ids(ids, width)], capsys)
    assert code == 0
    assert out == "Once upon a time\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["decode", "1,x", "--model", "glm-4-6"], "IDS: entry 1 ('x')"),
        (["decode", "1,-2", "--model", "glm-4-6"], "IDS: entry 1 ('-2')"),
        (["decode", ",", "--model", "glm-4-6"], "IDS: no token ids"),
        (["decode", "1,9999999", "--model", "glm-4-6"], "token id 9999999 at position 1"),
        (["decode", "kayra-v1", "not base64!"], "BASE64:"),
        (["decode", "kayra-v1", "AQA"], "BASE64:"),
        (["decode", "gpt-x", "AQA="], "unknown model 'gpt-x'"),
        (["decode", "1 2 3"], "decode needs IDS with --model"),
        (["tokenize", "hi", "--model", "nope"], "known models: glm-4-6"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_real_backend_missing_tokenizer_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NAI_TOKEN", "pst-test")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("NAI_SCRIPT_TOKENIZER_URL", "http://127.0.0.1:9")  # refuses at once
    code, _, err = run(["tokenize", "hi", "--model", "kayra-v1", "--backend", "novelai"], capsys)
    assert code == 1
    progress, error = err.splitlines()  # what it tried, then the one-line error
    assert progress.startswith("nai-script: downloading tokenizer 'nerdstash_tokenizer_v2'")
    assert error.startswith("nai-script: error: ")
    assert "nerdstash_tokenizer_v2" in error
    assert "NAI_SCRIPT_TOKENIZER_DIR" in error


def test_real_backend_uses_the_users_file(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_bpe_path: Path,
) -> None:
    shutil.copy(tiny_bpe_path, tmp_path / "nerdstash_tokenizer_v2.json")
    monkeypatch.setenv("NAI_TOKEN", "pst-test")
    monkeypatch.setenv("NAI_SCRIPT_TOKENIZER_DIR", str(tmp_path))
    code, out, _ = run(
        ["tokenize", "a<|endoftext|>", "--model", "kayra-v1", "--backend", "novelai"], capsys
    )
    assert code == 0
    assert out.strip().endswith(",0")  # <|endoftext|> is id 0 in the tiny file


@pytest.mark.parametrize("backend", ["novelai", "openai"])
@pytest.mark.parametrize("command", ["tokenize", "decode"])
def test_real_backends_need_no_token_or_server_to_tokenize(
    backend: str,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tiny_bpe_path: Path,
) -> None:
    # Tokenizing never calls the backend (NovelAI's tokenizer files are public), yet it used
    # to demand NAI_TOKEN (novelai) or --base-url (openai) and exit 2.
    shutil.copy(tiny_bpe_path, tmp_path / "nerdstash_tokenizer_v2.json")
    monkeypatch.setenv("NAI_SCRIPT_TOKENIZER_DIR", str(tmp_path))
    value = "a<|endoftext|>" if command == "tokenize" else "0"
    code, out, err = run([command, value, "--model", "kayra-v1", "--backend", backend], capsys)
    assert (code, err) == (0, "")
    assert out.strip().endswith(",0") if command == "tokenize" else out == "<|endoftext|>\n"


@pytest.mark.parametrize("arg", ["1,²", "1,٣", "1,-2", "1,x"])
def test_decode_refuses_what_is_not_an_ascii_integer_in_one_line(
    arg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """'²' and '٣' pass str.isdigit, then int() raised a bare ValueError (exit 1)."""
    code, _, err = run(["decode", arg, "--model", "glm-4-6"], capsys)
    assert code == 2
    assert "IDS: entry 1" in err
    assert len(err.strip().splitlines()) == 1


# -- the retired models the simulator serves -------------------------------------------
# ``tokenize``/``decode`` for the retired models the simulator serves (krake-v2, euterpe-v2,
# 6B-v4, 2.7B). They were refused as unknown models although the simulator serves them.
#
# NovelAI tokenizes krake-v2 with the Pile (GPT-NeoX-20B) tokenizer and the other three with
# GPT-2's; nai-script bundles neither (nothing is downloaded for them either). So: the simulator's
# tokenizer stands in for them as for every model (it is what the simulator itself uses for
# them), and with ``--backend novelai`` the refusal says that no tokenizer is bundled.


@pytest.mark.parametrize("model", sorted(TEXT_MODELS))
def test_every_model_the_simulator_serves_can_be_tokenized_with_it(
    model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "The keeper lit the lamp.<|endoftext|>"
    ids = sim_tokenizer().encode(text)
    assert run(["tokenize", text, "--model", model], capsys) == (
        0,
        f"{','.join(map(str, ids))}\n",
        "",
    )
    assert run(["decode", ",".join(map(str, ids)), "--model", model], capsys) == (
        0,
        f"{text}\n",
        "",
    )


def test_the_retired_models_are_the_simulators_outside_the_model_table() -> None:
    """``RETIRED`` names by hand what the simulator serves beyond ``MODELS``: kept in step."""
    assert list(RETIRED) == [m for m in TEXT_MODELS if m not in MODELS]


@pytest.mark.parametrize("model", sorted(RETIRED))
def test_retired_models_use_uint16_ids_on_the_wire(
    model: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = sim_tokenizer().encode("Hello world")
    packed = pack_token_ids(ids, 2)
    assert run(["tokenize", "Hello world", "--model", model, "--b64"], capsys) == (
        0,
        f"{packed}\n",
        "",
    )
    assert run(["decode", model, packed], capsys) == (0, "Hello world\n", "")


@pytest.mark.parametrize("command", ["tokenize", "decode"])
@pytest.mark.parametrize(("model", "tokenizer"), sorted(RETIRED.items()))
def test_with_novelai_the_refusal_says_no_tokenizer_is_bundled(
    model: str, tokenizer: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "hi" if command == "tokenize" else "1,2"
    code, out, err = run([command, value, "--model", model, "--backend", "novelai"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"nai-script: error: --model {model}: no tokenizer for this model is bundled; NovelAI "
        f"tokenizes it with {tokenizer}, which nai-script neither ships nor downloads "
        "(--backend sim or openai use the simulator's tokenizer for it)\n"
    )


def test_an_unknown_model_is_still_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["tokenize", "hi", "--model", "krake-v9"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("nai-script: error: --model: unknown model 'krake-v9' (known models: ")
    assert "krake-v2" in err


def test_with_openai_the_simulator_tokenizer_is_the_estimate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As for table models without a mapped file (e.g. ``nai-script sim`` behind --base-url)."""
    ids = sim_tokenizer().encode("Hi")
    argv = ["tokenize", "Hi", "--model", "krake-v2", "--backend", "openai"]
    assert run(argv, capsys) == (0, f"{','.join(map(str, ids))}\n", "")
