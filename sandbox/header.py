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
from collections.abc import Collection
from pathlib import PurePath
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from sandbox.frontmatter import HeaderError, front_matter, line_of, load_mapping

__all__ = [
    "ConfigOption",
    "HeaderError",
    "ScriptHeader",
    "default_header",
    "header_from_module",
    "parse_header",
    "script_id_from_filename",
]

#: What a permission name may look like; which names exist is the host's business.
PERMISSION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


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
    def _permission_names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        malformed = [item for item in value if not PERMISSION_NAME.fullmatch(item)]
        if malformed:
            raise ValueError(f"{malformed[0]!r} is not a permission name")
        known: Collection[str] | None = (info.context or {}).get("known_permissions")
        unknown = [item for item in value if known is not None and item not in known]
        if unknown:
            raise ValueError(
                f"unknown permission {unknown[0]!r}; known: {', '.join(sorted(known or ()))}"
            )
        return value


def script_id_from_filename(filename: str) -> str:
    """``My Script.py`` -> ``my-script``: the id a script gets when its header has none."""
    stem = PurePath(filename).stem or "script"
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    return slug or "script"


def parse_header(
    source: str, filename: str, known_permissions: Collection[str] | None = None
) -> ScriptHeader:
    """Parse the front matter of ``source`` (a script's text); defaults when there is none.

    ``known_permissions``, when given, is the host's list of permission names: any other name
    in the header is an error. Without it any well-formed name is accepted.
    """
    try:
        tree = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return default_header(filename)
    return header_from_module(tree, filename, known_permissions)


def default_header(filename: str) -> ScriptHeader:
    return ScriptHeader.model_validate(_defaults(filename))


def _defaults(filename: str) -> dict[str, Any]:
    """What a header without ``id``/``name`` gets: the file name's slug and its stem."""
    return {"id": script_id_from_filename(filename), "name": PurePath(filename).stem or "script"}


def header_from_module(
    tree: ast.Module, filename: str, known_permissions: Collection[str] | None = None
) -> ScriptHeader:
    """The header of an already parsed module (the compiler parses once); see ``parse_header``."""
    block = front_matter(tree, filename)
    if block is None:
        return default_header(filename)
    text, first_line = block
    fields = _defaults(filename) | load_mapping(text, first_line, filename)
    try:
        context = {"known_permissions": known_permissions}
        return ScriptHeader.model_validate(fields, context=context)
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
