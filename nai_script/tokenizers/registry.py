"""``TokenizerRegistry``: model id -> the tokenizer a backend uses for it.

* ``sim``: the shipped simulator tokenizer stands in for every model id, so everything works
  offline and nothing is ever downloaded.
* ``real`` / ``novelai``: the model's real tokenizer — the user's file, else NovelAI's cached
  definition. ``get`` never touches the network; ``ensure`` (async) downloads once if needed.
* ``openai``: the user's file if one is mapped, else the simulator tokenizer as an estimate
  (OpenAI-compatible servers do not publish their tokenizer in a standard place).

NovelAI's site URL can be overridden with ``NAI_SCRIPT_TOKENIZER_URL`` (a mirror, or tests).

Tokenizers are cached per tokenizer name; loading is serialised by a lock so concurrent callers
share one load.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from nai_script.tokenizers.base import Tokenizer
from nai_script.tokenizers.chat import TEMPLATE_SPECIALS, ChatMessage, apply_chat_template
from nai_script.tokenizers.errors import TokenizerError, TokenizerUnavailableError
from nai_script.tokenizers.models import MODELS, ModelInfo, model_info
from nai_script.tokenizers.recent import RecentEncodings
from nai_script.tokenizers.sim import sim_tokenizer
from nai_script.tokenizers.sources import (
    ENV_TOKENIZER_URL,
    NOVELAI_SITE_URL,
    Fetcher,
    TokenizerFiles,
    cached_definition_path,
    default_cache_dir,
    download_definition,
    fetch_with_aiohttp,
    find_user_file,
    load_tokenizer_file,
    missing_tokenizer_message,
)

BackendName = Literal["sim", "real", "novelai", "openai"]
_BACKENDS = ("sim", "real", "novelai", "openai")
Progress = Callable[[str], None]
#: ``encode_async`` tokenizes texts at least this long on a thread.
OFF_LOOP_CHARS = 32 * 1024


class TokenizerRegistry:
    """Tokenizers for one backend; cheap to share across the host."""

    def __init__(
        self,
        backend: BackendName | str = "sim",
        user_files: TokenizerFiles | Mapping[str, Path] | None = None,
        cache_dir: Path | None = None,
        fetch: Fetcher | None = None,
        base_url: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        kind = str(getattr(backend, "value", backend)).lower()
        if kind not in _BACKENDS:
            raise ValueError(f"backend: {backend!r} is not one of {', '.join(_BACKENDS)}")
        self.backend = "real" if kind == "novelai" else kind
        if user_files is None:
            user_files = TokenizerFiles.from_env()
        elif not isinstance(user_files, TokenizerFiles):
            user_files = TokenizerFiles.from_env(files=user_files)
        self.user_files = user_files
        self.cache_dir = cache_dir or default_cache_dir()
        self._fetch = fetch or fetch_with_aiohttp
        self._base_url = base_url or os.environ.get(ENV_TOKENIZER_URL) or NOVELAI_SITE_URL
        self._lock = threading.RLock()
        self._loaded: dict[str, Tokenizer] = {}
        self._downloads: dict[str, asyncio.Future[Path]] = {}
        # Told one line when a download starts and when it ends (a CLI prints it on stderr):
        # a definition is megabytes, and a silent wait looks like a hang.
        self.progress = progress
        #: The ids of the texts encoded last (``recent``): a prompt counted, then sent, is
        #: tokenized once.
        self.recent = RecentEncodings()

    @staticmethod
    def models() -> Mapping[str, ModelInfo]:
        return MODELS

    def get(self, model_id: str) -> Tokenizer:
        """The tokenizer for ``model_id`` from local sources; never downloads."""
        info = model_info(model_id)
        if self.backend == "sim" or info.is_simulator:
            return sim_tokenizer()
        user_path = find_user_file(info, self.user_files)
        if user_path is not None:
            return self._load(f"{info.tokenizer}@{user_path}", user_path, info)
        if self.backend == "openai":
            return sim_tokenizer()
        cached = cached_definition_path(self.cache_dir, info.tokenizer)
        if cached.is_file():
            return self._load(info.tokenizer, cached, info)
        raise TokenizerUnavailableError(
            missing_tokenizer_message(info, self.cache_dir, can_download=True)
        )

    async def ensure(self, model_id: str) -> Tokenizer:
        """Like ``get``, but downloads NovelAI's definition once when nothing local has it."""
        try:
            return self.get(model_id)
        except TokenizerUnavailableError:
            if self.backend != "real":
                raise
        info = model_info(model_id)
        pending = self._downloads.get(info.tokenizer)
        # One download per name; a future left by another (e.g. finished) loop is not reused.
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = asyncio.ensure_future(self._download(info.tokenizer))
            self._downloads[info.tokenizer] = pending
        try:
            await asyncio.shield(pending)
        except TokenizerError as exc:  # unreachable, HTTP error, or a file we cannot read
            hint = missing_tokenizer_message(info, self.cache_dir, can_download=False)
            raise TokenizerUnavailableError(f"{exc}; {hint}") from exc
        finally:
            if pending.done():
                self._downloads.pop(info.tokenizer, None)
        return self.get(model_id)

    async def prefetch(self) -> dict[str, str]:
        """Have every NovelAI model's tokenizer at hand (downloading what is missing, once), so
        the synchronous ``get`` the host counts with never finds one missing. Returns model id
        -> error for those that could not be had; only the ``real`` backend downloads."""
        failures: dict[str, str] = {}
        if self.backend != "real":
            return failures
        wanted = [m for m in MODELS.values() if not m.is_simulator]
        results = await asyncio.gather(*(self.ensure(m.id) for m in wanted), return_exceptions=True)
        for info, result in zip(wanted, results, strict=True):
            if isinstance(result, TokenizerError):
                failures[info.id] = str(result)
            elif isinstance(result, BaseException):
                raise result
        return failures

    async def _download(self, tokenizer: str) -> Path:
        say = self.progress or (lambda _line: None)
        say(
            f"downloading tokenizer {tokenizer!r} from {self._base_url} (once; cached in "
            f"{self.cache_dir})..."
        )
        path = await download_definition(tokenizer, self.cache_dir, self._fetch, self._base_url)
        say(f"tokenizer {tokenizer!r}: {path.stat().st_size // 1024} KiB saved to {path}")
        return path

    def encode(self, model_id: str, text: str) -> list[int]:
        return self.recent.encode(self.get(model_id), text)

    def decode(self, model_id: str, ids: Sequence[int]) -> str:
        return self.get(model_id).decode(ids)

    def encode_chat(
        self,
        model_id: str,
        messages: Sequence[ChatMessage | Mapping[str, Any]],
        add_generation_prompt: bool = True,
    ) -> list[int]:
        """The exact prompt token ids ``model_id`` sees for ``messages`` (what limits count)."""
        text = apply_chat_template(model_id, messages, add_generation_prompt)
        return self.encode(model_id, text)

    async def encode_async(self, model_id: str, text: str) -> list[int]:
        """``encode``, on a thread for a text of ``OFF_LOOP_CHARS`` or more, so a long one
        (a megabyte is about half a second) does not stall the event loop; a short one is
        encoded at once, without a hop; one encoded lately is a lookup (``recent``)."""
        tokenizer = self.get(model_id)
        if len(text) < OFF_LOOP_CHARS:
            return self.recent.encode(tokenizer, text)
        ids = self.recent.get(tokenizer, text)
        if ids is None:
            ids = await asyncio.to_thread(tokenizer.encode, text)
            self.recent.put(tokenizer, text, ids)
        return ids

    def _load(self, key: str, path: Path, info: ModelInfo) -> Tokenizer:
        with self._lock:
            tokenizer = self._loaded.get(key)
            if tokenizer is None:
                specials = TEMPLATE_SPECIALS[info.chat_template]
                tokenizer = load_tokenizer_file(path, info.tokenizer, specials)
                self._loaded[key] = tokenizer
            return tokenizer
