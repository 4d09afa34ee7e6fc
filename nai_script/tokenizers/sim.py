"""The tokenizer the project ships for the simulator (``nai-sim-v1``).

A byte-level BPE (~8k vocab) trained by ``tools/build_sim_tokenizer.py`` from the project's own
corpus. Its specials cover every chat template's tokens, so with the simulator as backend it
stands in for every model id.
"""

from __future__ import annotations

import threading
from importlib import resources

from nai_script.tokenizers.hf import HFTokenizer

SIM_TOKENIZER_NAME = "nai-sim-v1"
SIM_TOKENIZER_FILE = "nai-sim-v1.tokenizer.json"
SIM_VOCAB_SIZE = 8192

# Order fixes the ids (0..10): changing it changes every id the simulator emits.
SIM_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "[gMASK]",
    "<sop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
)

_lock = threading.Lock()
_cached: HFTokenizer | None = None


def sim_tokenizer_json() -> str:
    """The shipped ``tokenizer.json`` text."""
    data = resources.files("nai_script.tokenizers.data") / SIM_TOKENIZER_FILE
    return data.read_text(encoding="utf-8")


def sim_tokenizer() -> HFTokenizer:
    """The shared simulator tokenizer, loaded once per process."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = HFTokenizer.from_json(
                sim_tokenizer_json(), SIM_TOKENIZER_NAME, SIM_SPECIAL_TOKENS
            )
        return _cached
