"""Tokenizers, chat templates and the model registry (SPEC section 7).

``sim_tokenizer()`` is the project's own tokenizer for the simulator; ``TokenizerRegistry``
maps model ids to tokenizers for a backend; ``apply_chat_template`` turns chat messages into the
exact prompt text the limits count.
"""

from nai_script.tokenizers.base import SpecialTokenSplicer, Tokenizer
from nai_script.tokenizers.errors import (
    ChatTemplateError,
    TokenizerError,
    TokenizerUnavailableError,
    UnknownModelError,
)
from nai_script.tokenizers.hf import HFTokenizer
from nai_script.tokenizers.sim import SIM_SPECIAL_TOKENS, SIM_TOKENIZER_NAME, sim_tokenizer

__all__ = [
    "SIM_SPECIAL_TOKENS",
    "SIM_TOKENIZER_NAME",
    "ChatTemplateError",
    "HFTokenizer",
    "SpecialTokenSplicer",
    "Tokenizer",
    "TokenizerError",
    "TokenizerUnavailableError",
    "UnknownModelError",
    "sim_tokenizer",
]
