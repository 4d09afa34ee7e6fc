"""Open a client on the configured backend: the in-process simulator, NovelAI, or an
OpenAI-compatible server.

Commands and the host call :func:`open_backend` and get one object with the client and the
right tokenizer registry, so none of them repeats the per-backend wiring.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from nai_script.client import ClientSettings, NovelAIClient
from nai_script.client.errors import NovelAIError
from nai_script.config import (
    NOVELAI_API_URL,
    NOVELAI_IMAGE_URL,
    NOVELAI_TEXT_URL,
    BackendConfig,
    BackendKind,
)
from nai_script.tokenizers import TokenizerRegistry
from nai_script.tokenizers.served import from_model_list, register_served

log = logging.getLogger(__name__)

# The simulator accepts any persistent-style token; this one marks requests as ours.
SIMULATOR_TOKEN = "pst-nai-script-simulator"


@dataclass(frozen=True)
class Backend:
    """A live connection to one backend, valid inside :func:`open_backend`."""

    kind: BackendKind
    client: NovelAIClient
    tokenizers: TokenizerRegistry
    label: str


def client_settings_for(config: BackendConfig, sim_url: str | None = None) -> ClientSettings:
    """The client settings a backend choice implies (``sim_url``: a running simulator)."""
    if config.kind is BackendKind.SIM:
        url = config.base_url or sim_url
        if url is None:
            raise ValueError("the simulator backend needs a running simulator URL")
        return ClientSettings(
            text_url=url, api_url=url, image_url=url, token=config.token or SIMULATOR_TOKEN
        )
    if config.kind is BackendKind.NOVELAI:
        # A --base-url is one server for every NovelAI path (a proxy, or `nai-script sim`):
        # leaving the account and image hosts on NovelAI's own sent a run's subscription
        # check, `account access-token` and `image` past the server the user named.
        return ClientSettings(
            text_url=config.base_url or NOVELAI_TEXT_URL,
            api_url=config.base_url or NOVELAI_API_URL,
            image_url=config.base_url or NOVELAI_IMAGE_URL,
            token=config.token,
        )
    assert config.base_url is not None  # resolve_backend guarantees it for openai
    return ClientSettings(
        text_url=config.base_url,
        api_url=config.base_url,
        image_url=config.base_url,
        token=config.token,
        openai_compatible=True,
    )


@asynccontextmanager
async def open_backend(
    config: BackendConfig, *, discover_models: bool = False
) -> AsyncIterator[Backend]:
    """Start what the backend needs (the simulator, when it is in-process) and a client on it.

    With ``discover_models``, an OpenAI-compatible server's own model ids are asked for and
    known while the backend is open (``tokenizers.served``): scripts may then use them.
    """
    async with AsyncExitStack() as stack:
        sim_url: str | None = None
        if config.kind is BackendKind.SIM and config.base_url is None:
            from nai_script.sim import SimServer, SimSettings

            sim = await stack.enter_async_context(SimServer(SimSettings()))
            sim_url = sim.base_url
        settings = client_settings_for(config, sim_url)
        client = await stack.enter_async_context(NovelAIClient(settings))
        registry = TokenizerRegistry(backend=config.kind.value)
        if discover_models and config.kind is BackendKind.OPENAI:
            stack.callback(await _register_served_models(client))
        label = {
            BackendKind.SIM: "SIMULATOR (offline, simulated output, not NovelAI)",
            BackendKind.NOVELAI: (
                f"NovelAI API at {config.base_url}" if config.base_url else "NovelAI"
            ),
            BackendKind.OPENAI: f"OpenAI-compatible server at {config.base_url}",
        }[config.kind]
        yield Backend(kind=config.kind, client=client, tokenizers=registry, label=label)


async def _register_served_models(client: NovelAIClient) -> Callable[[], None]:
    """Register the server's models (``GET /v1/models``); the undo. A server that lists none
    is not an error: its model ids are then unknown here, and NovelAI's are still usable."""
    try:
        listing = await client.list_models()
    except NovelAIError as exc:
        log.warning(
            "warning: could not list the server's models (%s); only NovelAI's ids work", exc
        )
        return lambda: None
    return register_served(from_model_list(listing.data))


async def fetch_tokenizers(backend: Backend, say: Callable[[str], None]) -> None:
    """With a real account, get every NovelAI model's tokenizer before scripts run (downloaded
    once, then cached): the host counts tokens synchronously and never downloads, so without
    this every generation would fail on a tokenizer it could have had. ``say`` gets the
    progress lines; a tokenizer that cannot be had is reported, not fatal (only scripts that
    use that model fail, with the error naming the file and how to supply it)."""
    if backend.kind is not BackendKind.NOVELAI:
        return
    backend.tokenizers.progress = say
    for model_id, error in (await backend.tokenizers.prefetch()).items():
        say(f"warning: no tokenizer for {model_id}: {error}")
