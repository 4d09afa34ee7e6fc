"""nai-script: host user-written Python scripts against NovelAI's text and image generation."""

__version__ = "0.1.0"
