"""Where tokenizer files come from, in order.

1. The tokenizer the project ships for the simulator (``sim.py``).
2. Files the user points to: ``TokenizerFiles.files`` (model id or tokenizer name -> path) and
   the directory in ``NAI_SCRIPT_TOKENIZER_DIR`` holding ``<tokenizer>.json`` (HF),
   ``<tokenizer>.model`` (SentencePiece) or ``<tokenizer>.def`` (NovelAI's format).
3. NovelAI's own definitions, downloaded once into the user cache dir and reused after.

Nothing here talks to a model hub. The downloader is an injectable async callable so tests serve
files from a loopback server.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

import aiohttp
import platformdirs
from pydantic import BaseModel, ConfigDict, Field

from nai_script.tokenizers.base import Tokenizer
from nai_script.tokenizers.errors import TokenizerError, TokenizerUnavailableError
from nai_script.tokenizers.hf import HFTokenizer
from nai_script.tokenizers.models import ModelInfo
from nai_script.tokenizers.novelai_def import load_definition, parse_definition
from nai_script.tokenizers.spm import SentencePieceTokenizer

ENV_TOKENIZER_DIR = "NAI_SCRIPT_TOKENIZER_DIR"
ENV_TOKENIZER_URL = "NAI_SCRIPT_TOKENIZER_URL"
NOVELAI_SITE_URL = "https://novelai.net"
FILE_SUFFIXES = (".json", ".model", ".def")
MAX_DEFINITION_BYTES = 64 * 1024 * 1024

Fetcher = Callable[[str], Awaitable[bytes]]


class TokenizerFiles(BaseModel):
    """Tokenizer files the user supplies (settings; flags or env fill it)."""

    model_config = ConfigDict(frozen=True)

    files: dict[str, Path] = Field(
        default_factory=dict,
        description="Model id or tokenizer name -> a tokenizer.json, .model or .def file.",
    )
    directory: Path | None = Field(
        default=None,
        description=f"A folder of <tokenizer-name>.json/.model/.def files ({ENV_TOKENIZER_DIR}).",
    )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, files: Mapping[str, Path] | None = None
    ) -> TokenizerFiles:
        environ = os.environ if env is None else env
        folder = environ.get(ENV_TOKENIZER_DIR) or None
        return cls(files=dict(files or {}), directory=Path(folder) if folder else None)


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("nai-script")) / "tokenizers"


def definition_url(base_url: str, tokenizer: str) -> str:
    """Where NovelAI's web client fetches a tokenizer definition."""
    return f"{base_url.rstrip('/')}/tokenizer/compressed/{tokenizer}.def?v=2&static=true"


def cached_definition_path(cache_dir: Path, tokenizer: str) -> Path:
    return cache_dir / f"{tokenizer}.def"


def find_user_file(info: ModelInfo, files: TokenizerFiles) -> Path | None:
    """The user's file for this model, by model id, then tokenizer name, then directory."""
    for key in (info.id, info.tokenizer):
        path = files.files.get(key)
        if path is not None:
            if not path.is_file():
                raise TokenizerUnavailableError(
                    f"tokenizer file for {key!r} not found: {path} (fix the path in the "
                    "tokenizer settings)"
                )
            return path
    if files.directory is not None:
        for suffix in FILE_SUFFIXES:
            candidate = files.directory / f"{info.tokenizer}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def load_tokenizer_file(path: Path, name: str, extra_specials: Iterable[str] = ()) -> Tokenizer:
    """Load by suffix: ``.json`` HF, ``.model`` SentencePiece, ``.def`` NovelAI definition."""
    specials = tuple(extra_specials)
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return HFTokenizer.from_file(path, name, specials)
        if suffix == ".model":
            return SentencePieceTokenizer.from_file(path, name, specials)
        if suffix == ".def":
            return load_definition(path.read_bytes(), name, specials, source=str(path))
    except OSError as exc:
        raise TokenizerUnavailableError(f"cannot read tokenizer file {path}: {exc}") from exc
    raise TokenizerError(
        f"{path}: unknown tokenizer file type {suffix!r} (use .json, .model or .def)"
    )


async def fetch_with_aiohttp(url: str) -> bytes:
    """The default downloader: one GET, bounded size, HTTP errors become clear messages."""
    timeout = aiohttp.ClientTimeout(total=120, sock_connect=15)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url) as response,
    ):
        if response.status != 200:
            raise TokenizerUnavailableError(f"GET {url} answered HTTP {response.status}")
        data = await response.content.read(MAX_DEFINITION_BYTES + 1)
        if len(data) > MAX_DEFINITION_BYTES:
            raise TokenizerUnavailableError(f"GET {url}: larger than {MAX_DEFINITION_BYTES} bytes")
        return data


async def download_definition(
    tokenizer: str, cache_dir: Path, fetch: Fetcher, base_url: str = NOVELAI_SITE_URL
) -> Path:
    """Download NovelAI's definition once; a valid cached copy is reused without a request."""
    target = cached_definition_path(cache_dir, tokenizer)
    if target.is_file():
        return target
    url = definition_url(base_url, tokenizer)
    try:
        data = await fetch(url)
    except TokenizerError:
        raise
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise TokenizerUnavailableError(
            f"could not download tokenizer {tokenizer!r} from {url}: {exc}"
        ) from exc
    return await asyncio.to_thread(_store_definition, cache_dir, tokenizer, data, url)


def _store_definition(cache_dir: Path, tokenizer: str, data: bytes, url: str) -> Path:
    """Validate, then write atomically (temp file + rename) so readers never see half a file."""
    parse_definition(data, url)  # never cache a file we cannot read
    target = cached_definition_path(cache_dir, tokenizer)
    cache_dir.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=cache_dir, prefix=f".{tokenizer}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target


def missing_tokenizer_message(info: ModelInfo, cache_dir: Path, can_download: bool) -> str:
    """Which file is missing and the ways to supply it."""
    name = info.tokenizer
    how = [
        f"put {name}.json (HF tokenizer.json), {name}.model (SentencePiece) or {name}.def "
        f"(NovelAI definition) in ${ENV_TOKENIZER_DIR}",
        f"map {info.id!r} to a file in the tokenizer settings",
    ]
    if can_download:
        how.append(
            f"let nai-script download NovelAI's copy once into {cache_dir} "
            "(TokenizerRegistry.ensure, or `nai-script tokenize --backend novelai`; needs network)"
        )
    return f"tokenizer {name!r} for model {info.id!r} is not available: " + "; or ".join(how)
