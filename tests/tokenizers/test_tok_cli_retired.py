"""``tokenize``/``decode`` for the retired models the simulator serves (krake-v2, euterpe-v2,
6B-v4, 2.7B). They were refused as unknown models although the simulator serves them.

NovelAI tokenizes krake-v2 with the Pile (GPT-NeoX-20B) tokenizer and the other three with
GPT-2's; nai-script bundles neither (nothing is downloaded for them either). So: the simulator's
tokenizer stands in for them as for every model (it is what the simulator itself uses for
them), and with ``--backend novelai`` the refusal says that no tokenizer is bundled.
"""

from __future__ import annotations

import pytest

from nai_script.cli.main import main
from nai_script.client.codec import pack_token_ids
from nai_script.sim.catalog import TEXT_MODELS
from nai_script.tokenizers import sim_tokenizer

RETIRED = {
    "krake-v2": "the Pile (GPT-NeoX-20B) tokenizer",
    "euterpe-v2": "the GPT-2 tokenizer",
    "6B-v4": "the GPT-2 tokenizer",
    "2.7B": "the GPT-2 tokenizer",
}


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
