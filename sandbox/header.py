"""Script front matter: the ``.naiscript``-style header in a script's module docstring.

::

    \"\"\"
    ---
    name: Word Counter
    version: 1.0.0
    memoryLimit: 64
    permissions: [documentEdit]
    ---
    Free text after the block is the script's own documentation.
    \"\"\"

Errors name the key and the script line it sits on, because a header typo is the first thing a
new script author hits.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sandbox.frontmatter import HeaderError, front_matter, line_of, load_mapping

__all__ = [
    "KNOWN_PERMISSIONS",
    "ConfigOption",
    "HeaderError",
    "ScriptHeader",
    "default_header",
    "header_from_module",
    "parse_header",
    "script_id_from_filename",
]

KNOWN_PERMISSIONS: frozenset[str] = frozenset(
    {
        "storyEdit",
        "documentEdit",
        "lorebookEdit",
        "clipboardWrite",
        "fileDownload",
        "fileInput",
        "editorDecorations",
        "imageGeneration",  # nai-script extension (api.v1.image.generate)
    }
)


class ConfigOption(BaseModel):
    """One user-settable option (``api.v1.config.get(name)``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    prettyName: str | None = None
    description: str | None = None
    type: Literal["string", "number", "boolean", "select", "text", "integer"] = "string"
    default: Any = None
    options: list[Any] | None = None


class ScriptHeader(BaseModel):
    """A script's identity and requests, as declared in its front matter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    version: str = "0.0.0"
    author: str | None = None
    description: str | None = None
    memoryLimit: int | None = Field(default=None, gt=0, le=65536, description="MB")
    config: list[ConfigOption] = Field(default_factory=list)
    permissions: list[str] = Field(default_factory=list)

    @field_validator("version", "author", "description", "name", "id", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        # YAML reads `version: 1.0` as a float; the author meant the text.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("permissions")
    @classmethod
    def _known_permissions(cls, value: list[str]) -> list[str]:
        unknown = [item for item in value if item not in KNOWN_PERMISSIONS]
        if unknown:
            raise ValueError(
                f"unknown permission {unknown[0]!r}; known: {', '.join(sorted(KNOWN_PERMISSIONS))}"
            )
        return value


def script_id_from_filename(filename: str) -> str:
    """``My Script.py`` -> ``my-script``: the id a script gets when its header has none."""
    stem = PurePath(filename).stem or "script"
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug or "script"


def parse_header(source: str, filename: str) -> ScriptHeader:
    """Parse the front matter of ``source`` (a script's text); defaults when there is none."""
    try:
        tree = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return default_header(filename)
    return header_from_module(tree, filename)


def default_header(filename: str) -> ScriptHeader:
    stem = PurePath(filename).stem or "script"
    return ScriptHeader(id=script_id_from_filename(filename), name=stem)


def header_from_module(tree: ast.Module, filename: str) -> ScriptHeader:
    """The header of an already parsed module (the compiler parses once)."""
    block = front_matter(tree, filename)
    if block is None:
        return default_header(filename)
    text, first_line = block
    fields = load_mapping(text, first_line, filename)
    stem = PurePath(filename).stem or "script"
    fields.setdefault("id", script_id_from_filename(filename))
    fields.setdefault("name", stem)
    try:
        return ScriptHeader.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = tuple(error["loc"])
        key = ".".join(str(part) for part in location) or "header"
        line = first_line + line_of(text, location)
        if error["type"] == "extra_forbidden":
            message = f"unknown header key {key!r}"
        else:
            message = f"header key {key!r}: {error['msg']}"
        raise HeaderError(filename, line, message) from None
