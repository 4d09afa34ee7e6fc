"""Tokenizers, chat templates and the model registry (SPEC section 7).

``sim_tokenizer()`` is the project's own tokenizer for the simulator; ``TokenizerRegistry``
maps model ids to tokenizers for a backend; ``apply_chat_template`` turns chat messages into the
exact prompt text the limits count; ``MODELS`` is the documented model/tier table.
"""

from nai_script.tokenizers.base import SpecialTokenSplicer, Tokenizer
from nai_script.tokenizers.chat import ChatMessage, apply_chat_template, validate_messages
from nai_script.tokenizers.errors import (
    ChatTemplateError,
    TokenizerError,
    TokenizerUnavailableError,
    UnknownModelError,
)
from nai_script.tokenizers.hf import HFTokenizer
from nai_script.tokenizers.models import (
    MODELS,
    ModelInfo,
    Tier,
    context_size,
    model_info,
    rollover_tokens,
)
from nai_script.tokenizers.registry import TokenizerRegistry
from nai_script.tokenizers.sim import SIM_SPECIAL_TOKENS, SIM_TOKENIZER_NAME, sim_tokenizer
from nai_script.tokenizers.sources import ENV_TOKENIZER_DIR, TokenizerFiles, load_tokenizer_file
from nai_script.tokenizers.spm import SentencePieceTokenizer

__all__ = [
    "ENV_TOKENIZER_DIR",
    "MODELS",
    "SIM_SPECIAL_TOKENS",
    "SIM_TOKENIZER_NAME",
    "ChatMessage",
    "ChatTemplateError",
    "HFTokenizer",
    "ModelInfo",
    "SentencePieceTokenizer",
    "SpecialTokenSplicer",
    "Tier",
    "Tokenizer",
    "TokenizerError",
    "TokenizerFiles",
    "TokenizerRegistry",
    "TokenizerUnavailableError",
    "UnknownModelError",
    "apply_chat_template",
    "context_size",
    "load_tokenizer_file",
    "model_info",
    "rollover_tokens",
    "sim_tokenizer",
    "validate_messages",
]
