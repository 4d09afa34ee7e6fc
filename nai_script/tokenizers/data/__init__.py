"""Data files shipped with the tokenizers package (the simulator tokenizer)."""
