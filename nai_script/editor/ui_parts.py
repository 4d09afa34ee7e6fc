"""The script UI vocabulary (NovelAI's ``UIPart`` / ``UIExtension`` / window options) as pydantic.

Scripts hand over plain dicts whose functions arrive as ``CallbackHandle``s; these models check
every field before anything reaches the page, and ``validation_message`` turns the first error
into ``extensions[0].content[2].min: Field required`` so a script author finds the part.
Unknown fields are refused: a typo (``onchange``) would otherwise silently never fire.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError

from sandbox.protocol import CallbackHandle


def _must_be_function(value: Any) -> CallbackHandle:
    if not isinstance(value, CallbackHandle):
        raise ValueError(f"must be a function, got {type(value).__name__}")
    return value


Callback = Annotated[CallbackHandle, PlainValidator(_must_be_function)]
_CSS_LENGTH = re.compile(r"(\d+(\.\d*)?|\.\d+)(px|%|em|rem|vh|vw|vmin|vmax|ch|ex|pt|cm|mm|in|pc)")


def _positive_number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive number, got {value!r}")
    return value


def _css_size(value: Any) -> int | float | str:
    """Pixels as a number, or a CSS length string (``"300px"``, ``"50%"``, ``"20em"``)."""
    if isinstance(value, str) and _CSS_LENGTH.fullmatch(value.strip()):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _positive_number(value)
    raise ValueError(
        f"must be a number of pixels or a CSS length like '300px' or '50%', got {value!r}"
    )


CssSize = Annotated[int | float | str, PlainValidator(_css_size)]
CodeLanguage = Literal["typescript", "javascript", "json", "markdown", "html", "css", "plaintext"]
Size = int | float | str
Spacing = Literal["center", "end", "space-around", "space-between", "start"]
Alignment = Literal["center", "end", "start"]

# The fields that carry script functions; they are replaced by opaque ids before publishing.
CALLBACK_FIELDS = ("callback", "onChange", "onSubmit")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, arbitrary_types_allowed=True)


class _Part(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=200)
    style: Any = None


class TextPart(_Part):
    type: Literal["text"]
    text: str = ""
    markdown: bool = False
    noTemplate: bool = False


class ImagePart(_Part):
    type: Literal["image"]
    src: str = Field(pattern=r"^data:image/")  # data: URLs only, as NovelAI allows
    alt: str | None = None
    height: int | float | None = None
    width: int | float | None = None


class ButtonPart(_Part):
    type: Literal["button"]
    text: str | None = None
    iconId: str | None = None
    callback: Callback
    disabled: bool = False
    disabledWhileCallbackRunning: bool = False


class _TextLikeInput(_Part):
    initialValue: str | None = None
    storageKey: str | None = Field(default=None, min_length=1)
    onChange: Callback | None = None
    onSubmit: Callback | None = None
    disabled: bool = False
    label: str | None = None
    placeholder: str | None = None


class TextInputPart(_TextLikeInput):
    type: Literal["textInput"]


class MultilineTextInputPart(_TextLikeInput):
    type: Literal["multilineTextInput"]


class NumberInputPart(_TextLikeInput):
    """NovelAI hands numberInput's value to onChange/onSubmit as a string."""

    type: Literal["numberInput"]
    initialValue: int | float | None = None  # type: ignore[assignment]


class CodeEditorPart(_Part):
    """NovelAI's Monaco editor; the page draws a monospace textarea (no highlighting, no
    diagnostics: ``diagnosticCodesToIgnore`` is accepted and has nothing to act on)."""

    type: Literal["codeEditor"]
    id: str = Field(min_length=1, max_length=200)  # required, as in NovelAI's d.ts
    initialValue: str | None = None
    storageKey: str | None = Field(default=None, min_length=1)
    onChange: Callback | None = None
    language: CodeLanguage = "typescript"
    height: CssSize = 300
    readOnly: bool = False
    lineNumbers: bool = True
    wordWrap: bool = True
    fontSize: Annotated[int | float, PlainValidator(_positive_number)] = 14
    diagnosticCodesToIgnore: list[int] = Field(default_factory=list)


class CheckboxInputPart(_Part):
    type: Literal["checkboxInput"]
    initialValue: bool | None = None
    storageKey: str | None = Field(default=None, min_length=1)
    onChange: Callback | None = None
    disabled: bool = False
    label: str | None = None


class SliderInputPart(_Part):
    type: Literal["sliderInput"]
    initialValue: int | float | None = None
    storageKey: str | None = Field(default=None, min_length=1)
    onChange: Callback | None = None
    label: str | None = None
    min: int | float
    max: int | float
    step: int | float | None = Field(default=None, gt=0)
    preventDecimal: bool = False
    uncapMin: bool = False
    uncapMax: bool = False
    prefix: str | None = None
    suffix: str | None = None
    changeDelay: int | float | None = Field(default=None, ge=0)
    disabled: bool = False
    defaultValue: int | float | None = None


class _Layout(_Part):
    content: list[UIPart | None] = Field(default_factory=list)


class RowPart(_Layout):
    type: Literal["row"]
    spacing: Spacing | None = None
    alignment: Alignment | None = None
    wrap: bool = False


class ColumnPart(_Layout):
    type: Literal["column"]
    spacing: Spacing | None = None
    alignment: Alignment | None = None
    wrap: bool = False


class BoxPart(_Layout):
    type: Literal["box"]


class ContainerPart(_Layout):
    type: Literal["container"]


class CollapsibleSectionPart(_Layout):
    type: Literal["collapsibleSection"]
    title: str
    initialCollapsed: bool = False
    storageKey: str | None = Field(default=None, min_length=1)
    iconId: str | None = None


Part = (
    TextPart
    | ImagePart
    | ButtonPart
    | TextInputPart
    | MultilineTextInputPart
    | CodeEditorPart
    | NumberInputPart
    | CheckboxInputPart
    | SliderInputPart
    | RowPart
    | ColumnPart
    | BoxPart
    | ContainerPart
    | CollapsibleSectionPart
)
UIPart = Annotated[Part, Field(discriminator="type")]


def _type_names(models: tuple[type[BaseModel], ...]) -> tuple[str, ...]:
    """The ``type`` of each model, from its ``Literal``: one list to keep, the union."""
    return tuple(get_args(model.model_fields["type"].annotation)[0] for model in models)


PART_TYPES = _type_names(get_args(Part))
#: The parts with a value of their own (``initialValue``, written back as the user edits).
INPUT_TYPES = _type_names(tuple(m for m in get_args(Part) if "initialValue" in m.model_fields))


class _Extension(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=200)


class ToolbarButton(_Extension):
    type: Literal["toolbarButton"]
    text: str | None = None
    iconId: str | None = None
    disabled: bool = False
    disabledWhileCallbackRunning: bool = False
    callback: Callback | None = None


class ContextMenuButton(_Extension):
    type: Literal["contextMenuButton"]
    text: str
    callback: Callback


class ScriptPanel(_Extension):
    type: Literal["scriptPanel"]
    name: str
    iconId: str | None = None
    content: list[UIPart | None] = Field(default_factory=list)


class SidebarPanel(_Extension):
    type: Literal["sidebarPanel"]
    name: str
    iconId: str | None = None
    content: list[UIPart | None] = Field(default_factory=list)


class LorebookPanel(_Extension):
    """A tab in the lorebook's "Script" area, shown while an entry or category is selected."""

    type: Literal["lorebookPanel"]
    name: str
    iconId: str | None = None
    content: list[UIPart | None]  # required, as in NovelAI's d.ts


Extension = ToolbarButton | ContextMenuButton | ScriptPanel | SidebarPanel | LorebookPanel
UIExtension = Annotated[Extension, Field(discriminator="type")]
EXTENSION_TYPES = _type_names(get_args(Extension))


class WindowOptions(_Strict):
    type: Literal["window"] = "window"
    id: str | None = Field(default=None, min_length=1, max_length=200)
    title: str | None = None
    defaultWidth: Size | None = None
    defaultHeight: Size | None = None
    defaultX: Size | None = None
    defaultY: Size | None = None
    minWidth: Size | None = None
    minHeight: Size | None = None
    maxWidth: Size | None = None
    maxHeight: Size | None = None
    resizable: bool = True
    content: list[UIPart | None] = Field(default_factory=list)


class ModalOptions(_Strict):
    type: Literal["modal"] = "modal"
    id: str | None = Field(default=None, min_length=1, max_length=200)
    title: str | None = None
    size: Literal["full", "large", "medium", "small"] | None = None
    hasMinimumHeight: bool = False
    fillWidth: bool = False
    content: list[UIPart | None] = Field(default_factory=list)


class ToastOptions(_Strict):
    id: str | None = Field(default=None, min_length=1, max_length=200)
    autoClose: int | float | Literal[False] | None = None
    type: Literal["info", "success", "warning", "error"] = "info"


class _ExtensionList(BaseModel):
    items: list[UIExtension]


class _PartList(BaseModel):
    items: list[UIPart | None]


_TAGS = frozenset(PART_TYPES) | frozenset(EXTENSION_TYPES)


class UiValidationError(ValueError):
    """Bad UI data from a script; the message names the path (``parts[0].content[1].min``)."""


def validation_message(
    error: ValidationError, prefix: str, *, extensions: bool = False, first_index: int = 0
) -> str:
    """The first problem as ``prefix[0].content[2].min: Field required`` (``first_index``:
    what the list's item 0 is called, when one item of a longer list is checked alone)."""
    first = error.errors()[0]
    where = prefix
    previous: Any = "items"
    depth = 0
    for part in first["loc"]:
        if isinstance(part, int):
            where += f"[{part + first_index if depth == 0 else part}]"
            depth += 1
        elif part in _TAGS and (isinstance(previous, int) or previous == "items"):
            pass  # the discriminator tag pydantic puts after a union member's index
        elif not (part == "items" and previous == "items"):
            where += f".{part}"
        previous = part
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] in ("union_tag_invalid", "union_tag_not_found"):
        known = EXTENSION_TYPES if extensions and depth == 1 else PART_TYPES
        got = first["input"].get("type") if isinstance(first["input"], dict) else None
        message = f"unknown type {got!r}; expected one of {', '.join(known)}"
    return f"{where}: {message}"


def validate_extensions(raw: Any, prefix: str, *, first_index: int = 0) -> list[Extension]:
    if not isinstance(raw, list):
        raise UiValidationError(f"{prefix}: must be a list, got {type(raw).__name__}")
    try:
        return list(_ExtensionList.model_validate({"items": raw}).items)
    except ValidationError as error:
        message = validation_message(error, prefix, extensions=True, first_index=first_index)
        raise UiValidationError(message) from None


def validate_parts(raw: Any, prefix: str, *, first_index: int = 0) -> list[Any]:
    if not isinstance(raw, list):
        raise UiValidationError(f"{prefix}: must be a list, got {type(raw).__name__}")
    try:
        return list(_PartList.model_validate({"items": raw}).items)
    except ValidationError as error:
        raise UiValidationError(
            validation_message(error, prefix, first_index=first_index)
        ) from None


def validate_options(model: type[BaseModel], raw: Any, prefix: str) -> Any:
    if not isinstance(raw, dict):
        raise UiValidationError(f"{prefix}: must be a dict, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise UiValidationError(validation_message(error, prefix)) from None
