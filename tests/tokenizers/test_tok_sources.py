"""Tokenizer sources and the registry: shipped, user files, downloaded once and cached.

Downloads go to a real loopback aiohttp server serving a tiny NovelAI-style .def.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE

import pytest
from aiohttp import web
from loopback import serve_app

from nai_script.backend import fetch_tokenizers, open_backend
from nai_script.config import BackendConfig, BackendKind
from nai_script.tokenizers import (
    MODELS,
    TokenizerFiles,
    TokenizerRegistry,
    TokenizerUnavailableError,
    UnknownModelError,
    sim_tokenizer,
)
from nai_script.tokenizers.sources import ENV_TOKENIZER_DIR, ENV_TOKENIZER_URL, fetch_with_aiohttp

TEXT = "Hello there<|user|>\nfriend"


@dataclass
class DefServer:
    base_url: str
    payload: bytes
    status: int = 200
    delay: float = 0.0
    requests: list[str] = field(default_factory=list)


@pytest.fixture
async def def_server(tiny_def: bytes) -> AsyncIterator[DefServer]:
    state = DefServer(base_url="", payload=tiny_def)

    async def handler(request: web.Request) -> web.Response:
        state.requests.append(request.path_qs)
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.status != 200:
            return web.json_response(
                {"statusCode": state.status, "message": "no"}, status=state.status
            )
        return web.Response(body=state.payload, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/tokenizer/compressed/{name}", handler)
    async with serve_app(app) as url:
        state.base_url = url
        yield state


def real_registry(server: DefServer, cache: Path, **kwargs: object) -> TokenizerRegistry:
    return TokenizerRegistry(
        "novelai",
        user_files=TokenizerFiles(),
        cache_dir=cache,
        fetch=fetch_with_aiohttp,
        base_url=server.base_url,
        **kwargs,  # type: ignore[arg-type]
    )


def test_sim_backend_stands_in_for_every_model(tmp_path: Path) -> None:
    registry = TokenizerRegistry("sim", user_files=TokenizerFiles(), cache_dir=tmp_path)
    for model in registry.models():
        assert registry.get(model) is sim_tokenizer()
    with pytest.raises(UnknownModelError):
        registry.get("unknown-model")


def test_real_backend_without_files_says_what_is_missing(tmp_path: Path) -> None:
    registry = TokenizerRegistry("real", user_files=TokenizerFiles(), cache_dir=tmp_path)
    with pytest.raises(TokenizerUnavailableError) as info:
        registry.get("kayra-v1")
    message = str(info.value)
    assert "nerdstash_tokenizer_v2.json" in message
    assert ENV_TOKENIZER_DIR in message
    assert "kayra-v1" in message
    # The simulator's own model needs nothing.
    assert registry.get("nai-sim-v1") is sim_tokenizer()


async def test_download_once_then_reuse_cache(def_server: DefServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    registry = real_registry(def_server, cache)
    tok = await registry.ensure("kayra-v1")
    assert def_server.requests == [
        "/tokenizer/compressed/nerdstash_tokenizer_v2.def?v=2&static=true"
    ]
    assert (cache / "nerdstash_tokenizer_v2.def").read_bytes() == def_server.payload
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert registry.get("kayra-v1") is tok  # cached per name, no request

    fresh = real_registry(def_server, cache)  # a new process would see the cached file
    again = await fresh.ensure("kayra-v1")
    assert again.encode(TEXT) == tok.encode(TEXT)
    assert len(def_server.requests) == 1


async def test_concurrent_ensure_downloads_once(def_server: DefServer, tmp_path: Path) -> None:
    def_server.delay = 0.05
    registry = real_registry(def_server, tmp_path)
    results = await asyncio.gather(*(registry.ensure("clio-v1") for _ in range(5)))
    assert len(def_server.requests) == 1
    assert all(r is results[0] for r in results)


async def test_http_error_names_the_file_and_the_fix(def_server: DefServer, tmp_path: Path) -> None:
    def_server.status = 404
    registry = real_registry(def_server, tmp_path)
    with pytest.raises(TokenizerUnavailableError) as info:
        await registry.ensure("kayra-v1")
    message = str(info.value)
    assert "HTTP 404" in message
    assert "nerdstash_tokenizer_v2.def" in message
    assert not list(tmp_path.iterdir())


async def test_corrupt_download_is_not_cached(def_server: DefServer, tmp_path: Path) -> None:
    def_server.payload = b"\x00\x01 definitely not a definition"
    registry = real_registry(def_server, tmp_path)
    with pytest.raises(TokenizerUnavailableError, match="not a NovelAI tokenizer definition"):
        await registry.ensure("kayra-v1")
    assert not (tmp_path / "nerdstash_tokenizer_v2.def").exists()


async def test_unreachable_server(tmp_path: Path) -> None:
    registry = TokenizerRegistry(
        "real", user_files=TokenizerFiles(), cache_dir=tmp_path, base_url="http://127.0.0.1:9"
    )
    with pytest.raises(TokenizerUnavailableError, match="could not download tokenizer"):
        await registry.ensure("kayra-v1")


async def test_injected_fetcher(tmp_path: Path, tiny_def: bytes) -> None:
    seen: list[str] = []

    async def fetch(url: str) -> bytes:
        seen.append(url)
        return tiny_def

    registry = TokenizerRegistry(
        "real",
        user_files=TokenizerFiles(),
        cache_dir=tmp_path,
        fetch=fetch,
        base_url="https://x.test/",
    )
    await registry.ensure("glm-4-6")
    assert seen == ["https://x.test/tokenizer/compressed/glm45_tokenizer.def?v=2&static=true"]


async def test_sim_backend_never_downloads(tmp_path: Path) -> None:
    async def fetch(url: str) -> bytes:
        raise AssertionError("no download expected")

    registry = TokenizerRegistry("sim", cache_dir=tmp_path, fetch=fetch)
    assert await registry.ensure("glm-4-6") is sim_tokenizer()


def test_user_directory_from_env(
    tmp_path: Path, tiny_bpe_path: Path, tiny_spm_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tok"
    folder.mkdir()
    shutil.copy(tiny_bpe_path, folder / "nerdstash_tokenizer_v2.json")
    shutil.copy(tiny_spm_path, folder / "nerdstash_tokenizer.model")
    monkeypatch.setenv(ENV_TOKENIZER_DIR, str(folder))
    registry = TokenizerRegistry("real", cache_dir=tmp_path / "cache")
    kayra = registry.get("kayra-v1")
    clio = registry.get("clio-v1")
    assert type(kayra).__name__ == "HFTokenizer"
    assert type(clio).__name__ == "SentencePieceTokenizer"
    assert kayra.name == "nerdstash_tokenizer_v2"
    assert clio.decode(clio.encode("a<|endoftext|>b")) == "a<|endoftext|>b"


def test_user_file_mapping_wins_over_cache(tmp_path: Path, tiny_bpe_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "glm45_tokenizer.def").write_bytes(b"corrupt, must not be read")
    registry = TokenizerRegistry("real", user_files={"glm-4-6": tiny_bpe_path}, cache_dir=cache)
    tok = registry.get("glm-4-6")
    ids = registry.encode_chat("glm-4-6", [{"role": "user", "content": "Hi"}])
    assert tok.decode(ids) == "[gMASK]<sop><|user|>\nHi<|assistant|>\n"


def test_mapped_file_missing_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    registry = TokenizerRegistry("real", user_files={"kayra-v1": missing}, cache_dir=tmp_path)
    with pytest.raises(TokenizerUnavailableError, match=r"nope\.json"):
        registry.get("kayra-v1")


def test_template_specials_are_checked_on_user_files(tmp_path: Path, tiny_bpe_path: Path) -> None:
    """Erato's Llama 3 template needs tokens the tiny file lacks: say so, naming one."""
    registry = TokenizerRegistry(
        "real", user_files={"llama-3-erato-v1": tiny_bpe_path}, cache_dir=tmp_path
    )
    with pytest.raises(Exception, match=r"<\|begin_of_text\|>"):
        registry.get("llama-3-erato-v1")


def test_openai_backend_uses_user_file_else_sim(tmp_path: Path, tiny_bpe_path: Path) -> None:
    registry = TokenizerRegistry(
        "openai", user_files={"kayra-v1": tiny_bpe_path}, cache_dir=tmp_path
    )
    assert registry.get("kayra-v1").name == "nerdstash_tokenizer_v2"
    assert registry.get("clio-v1") is sim_tokenizer()


def test_bad_backend_name() -> None:
    with pytest.raises(ValueError, match="backend: 'gpu'"):
        TokenizerRegistry("gpu")


def test_get_is_thread_safe(tmp_path: Path, tiny_bpe_path: Path) -> None:
    import concurrent.futures

    registry = TokenizerRegistry("real", user_files={"kayra-v1": tiny_bpe_path}, cache_dir=tmp_path)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        loaded = list(pool.map(lambda _: registry.get("kayra-v1"), range(32)))
    assert all(t is loaded[0] for t in loaded)


def test_registry_survives_a_cancelled_download_across_event_loops(
    tmp_path: Path, tiny_def: bytes
) -> None:
    """A download interrupted on one loop must not wedge the registry on the next loop."""
    calls: list[str] = []

    async def slow_then_fast(url: str) -> bytes:
        calls.append(url)
        if len(calls) == 1:
            await asyncio.sleep(10)
        return tiny_def

    registry = TokenizerRegistry(
        "real", user_files=TokenizerFiles(), cache_dir=tmp_path, fetch=slow_then_fast
    )

    async def interrupted() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(registry.ensure("kayra-v1"), 0.05)

    asyncio.run(interrupted())
    tok = asyncio.run(registry.ensure("kayra-v1"))
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert len(calls) == 2


async def test_prefetch_downloads_each_novelai_tokenizer_once_and_says_so(
    def_server: DefServer, tmp_path: Path
) -> None:
    # With a real account the host counts tokens with the synchronous ``get``, which never
    # downloads: run/serve prefetch, so a script's first generation does not fail on a
    # tokenizer nai-script could have had. Each download is announced (it is megabytes).
    lines: list[str] = []
    registry = real_registry(def_server, tmp_path, progress=lines.append)
    failures = await registry.prefetch()
    names = {m.tokenizer for m in MODELS.values() if not m.is_simulator}
    assert len(def_server.requests) == len(names)
    for model in (m for m in MODELS.values() if not m.is_simulator):
        if model.id not in failures:
            assert registry.get(model.id).decode(registry.get(model.id).encode("hi")) == "hi"
    assert "kayra-v1" not in failures
    for name in names:
        assert any(line.startswith(f"downloading tokenizer {name!r}") for line in lines)
        assert any(line.startswith(f"tokenizer {name!r}: ") for line in lines)
    said = len(lines)
    assert await registry.prefetch() == failures  # nothing new to fetch: no request, no line
    assert (len(def_server.requests), len(lines)) == (len(names), said)


async def test_prefetch_is_nothing_for_the_simulator(tmp_path: Path) -> None:
    async def fetch(url: str) -> bytes:
        raise AssertionError("the simulator backend never downloads")

    assert await TokenizerRegistry("sim", cache_dir=tmp_path, fetch=fetch).prefetch() == {}


async def test_tokenize_cli_shows_the_download(def_server: DefServer, tmp_path: Path) -> None:
    # `nai-script tokenize --backend novelai` downloaded megabytes without a word; it now
    # says what it fetches and where it keeps it (stderr), then prints the ids (stdout).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAI_TOKEN", "NAI_SCRIPT_"))}
    env.update(XDG_CACHE_HOME=str(tmp_path), NAI_SCRIPT_TOKENIZER_URL=def_server.base_url)
    argv = ["tokenize", "hi", "--model", "kayra-v1", "--backend", "novelai"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nai_script", *argv, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err
    assert out.decode().strip()
    lines = err.decode().splitlines()
    assert lines[0].startswith("nai-script: downloading tokenizer 'nerdstash_tokenizer_v2' from")
    assert lines[1].startswith("nai-script: tokenizer 'nerdstash_tokenizer_v2': ")
    assert "saved to" in lines[1]
    assert len(lines) == 2


async def test_a_real_backend_has_its_tokenizers_before_scripts_run(
    def_server: DefServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What run and serve do after opening a novelai backend (no request goes to NovelAI).
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv(ENV_TOKENIZER_URL, def_server.base_url)
    monkeypatch.delenv(ENV_TOKENIZER_DIR, raising=False)
    lines: list[str] = []
    async with open_backend(BackendConfig(kind=BackendKind.NOVELAI, token="pst-x")) as backend:
        with pytest.raises(TokenizerUnavailableError):
            backend.tokenizers.get("kayra-v1")
        await fetch_tokenizers(backend, lines.append)
        assert backend.tokenizers.get("kayra-v1").encode("hi")
    assert any(line.startswith("downloading tokenizer") for line in lines)
