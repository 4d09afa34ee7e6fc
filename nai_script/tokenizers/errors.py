"""Tokenizer errors: one family, so callers can catch everything tokenizer-shaped at once."""

from __future__ import annotations


class TokenizerError(ValueError):
    """Text or ids a tokenizer cannot handle; the message names the tokenizer and the value."""


class TokenizerUnavailableError(TokenizerError):
    """A tokenizer file could not be found or fetched; the message says how to supply it."""


class UnknownModelError(LookupError):
    """A model id the registry does not know; the message lists the ones it does."""


class ChatTemplateError(ValueError):
    """A chat message list that cannot be templated; the message names the message index."""
