"""An OpenAI-compatible server's own model ids work in scripts (``tokenizers.served``).

A loopback server in the shape of vLLM / llama.cpp: ``GET /v1/models`` lists its ids (one with
vLLM's ``max_model_len``), ``POST /v1/chat/completions`` streams text without token ids.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from loopback import serve_app

from nai_script.tokenizers import UnknownModelError, context_size, model_info
from nai_script.tokenizers.served import (
    DEFAULT_CONTEXT_TOKENS,
    from_model_list,
    register_served,
    served_model,
)

SERVED_IDS = ["org/local-model", "long-ctx"]


async def _models(request: web.Request) -> web.Response:
    data = [
        {"id": "org/local-model", "object": "model"},
        {"id": "long-ctx", "object": "model", "max_model_len": 32768},
        {"id": "glm-4-6", "object": "model", "max_model_len": 4096},  # NovelAI's id keeps its row
    ]
    return web.json_response({"object": "list", "data": data})


async def _chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for word in ["served", " by ", body["model"]]:
        chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


@asynccontextmanager
async def openai_server(*, list_models: bool = True) -> AsyncIterator[str]:
    app = web.Application()
    if list_models:
        app.router.add_get("/v1/models", _models)
    app.router.add_post("/v1/chat/completions", _chat)
    async with serve_app(app) as url:
        yield url


SCRIPT = textwrap.dedent(
    """\
    for model in ["org/local-model", "long-ctx", "glm-4-6"]:
        api.v1.log(model, await api.v1.maxTokens(model))
    messages = [{"role": "user", "content": "hi"}]
    result = await api.v1.generate(messages, {"model": "org/local-model", "max_tokens": 20})
    api.v1.log(result.choices[0].text)
    api.v1.log(api.v1.script.getAllowedOutput() < 2048)
    try:
        await api.v1.generate(messages, {"model": "not-served", "max_tokens": 5})
    except ValueError as error:
        api.v1.log("refused", "not-served" in str(error))
    """
)


def _run(script: Path, base_url: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
    argv = ["run", str(script), "--backend", "openai", "--base-url", base_url, "--data", str(data)]
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=90,
    )


async def test_a_script_generates_with_the_servers_own_model_id(tmp_path: Path) -> None:
    script = tmp_path / "served.py"
    script.write_text(SCRIPT)
    async with openai_server() as url:
        proc = await asyncio.to_thread(_run, script, url, tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"org/local-model {DEFAULT_CONTEXT_TOKENS}",
        "long-ctx 32768",
        "glm-4-6 28672",
        "served by org/local-model",
        "True",
        "refused True",
    ], proc.stderr


async def test_a_server_without_a_model_list_still_serves_novelai_ids(tmp_path: Path) -> None:
    script = tmp_path / "novelai_ids.py"
    script.write_text(
        "r = await api.v1.generate([{'role': 'user', 'content': 'x'}], {'model': 'glm-4-6'})\n"
        "api.v1.log(r.choices[0].text)\n"
    )
    async with openai_server(list_models=False) as url:
        proc = await asyncio.to_thread(_run, script, url, tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "served by glm-4-6"
    assert "could not list the server's models" in proc.stderr


def test_served_rows_are_known_until_undone() -> None:
    undo = register_served(from_model_list(_entries()))
    try:
        assert context_size("org/local-model", 0) == DEFAULT_CONTEXT_TOKENS
        assert context_size("long-ctx", 3) == 32768
        assert model_info("glm-4-6").tokenizer == "glm45_tokenizer"  # the table row stays
        assert model_info("org/local-model").chat_template == "plain"
    finally:
        undo()
    with pytest.raises(UnknownModelError, match="org/local-model"):
        model_info("org/local-model")


def test_a_served_models_tokenizer_name_is_a_plain_file_name() -> None:
    assert served_model("../../etc/passwd").tokenizer == "_.._etc_passwd"
    assert served_model("meta-llama/Llama 3").tokenizer == "meta-llama_Llama_3"
    assert served_model("...").tokenizer == "served-model"
    assert served_model("m", context_tokens=0).context_tokens[0] == DEFAULT_CONTEXT_TOKENS


def _entries() -> list[object]:
    from nai_script.client.models import ModelList

    return list(
        ModelList.model_validate(
            {"data": [{"id": "org/local-model"}, {"id": "long-ctx", "max_model_len": 32768}]}
        ).data
    )
