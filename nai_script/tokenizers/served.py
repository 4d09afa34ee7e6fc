"""Models an OpenAI-compatible server serves, known for as long as its backend is open.

Such a server names its models as it likes (llama.cpp, vLLM and Ollama each have their own
ids), so NovelAI's table (``models.MODELS``) cannot list them; without a row, a script's
``generate`` with the server's own model id was refused as an unknown model. ``open_backend``
asks the server (``GET /v1/models``) and registers a row per id it does not already know:

* tokens are counted with the user's tokenizer file for that id if one is mapped (by model id,
  or ``<id>.json``/``.model`` in ``NAI_SCRIPT_TOKENIZER_DIR``), else estimated with the
  simulator's tokenizer, as for every model on this backend;
* the prompt is counted as its contents concatenated (the ``plain`` template): the server
  applies its own chat template, which is not published in a standard place;
* the context size is the server's own figure where it reports one (vLLM's
  ``max_model_len``), else ``DEFAULT_CONTEXT_TOKENS``, at every tier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from nai_script.tokenizers.models import MODELS, SERVED, ModelInfo, Tier

#: The context size of a served model that reports none (llama.cpp, Ollama).
DEFAULT_CONTEXT_TOKENS = 8192
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def served_model(model_id: str, context_tokens: int | None = None) -> ModelInfo:
    """The row for a model the server serves under ``model_id``."""
    size = context_tokens if context_tokens and context_tokens > 0 else DEFAULT_CONTEXT_TOKENS
    return ModelInfo(
        id=model_id,
        display_name=model_id,
        # A file name: the tokenizer a user maps for it lives in a folder, under this name.
        tokenizer=_UNSAFE.sub("_", model_id).lstrip(".") or "served-model",
        chat_template="plain",
        context_tokens=dict.fromkeys(Tier, size),
    )


def from_model_list(entries: Iterable[Any]) -> list[ModelInfo]:
    """Rows for a ``GET /v1/models`` answer's entries (wire models keeping unknown fields)."""
    rows = []
    for entry in entries:
        reported = getattr(entry, "max_model_len", None)
        size = reported if type(reported) is int else None
        rows.append(served_model(entry.id, size))
    return rows


def register_served(rows: Iterable[ModelInfo]) -> Callable[[], None]:
    """Make ``rows`` known (NovelAI's own ids keep their table row); returns the undo."""
    added = [row for row in rows if row.id not in MODELS and row.id not in SERVED]
    for row in added:
        SERVED[row.id] = row

    def undo() -> None:
        for row in added:
            if SERVED.get(row.id) is row:
                del SERVED[row.id]

    return undo
