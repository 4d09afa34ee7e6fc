"""Checking what the page sends for a UI event against the part it targets.

The page is outside the sandbox's trust boundary as far as scripts are concerned: a checkbox
event must carry a bool, a slider a number inside its range, a text input a string of bounded
size. The result says what the script's callback receives (NovelAI's argument shapes) and what
is remembered / written to the part's ``storageKey``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_CHARS = 1_000_000

_EVENTS: dict[str, tuple[str, ...]] = {
    "button": ("callback",),
    "toolbarButton": ("callback",),
    "contextMenuButton": ("callback",),
    "textInput": ("onChange", "onSubmit"),
    "multilineTextInput": ("onChange", "onSubmit"),
    "codeEditor": ("onChange",),
    "numberInput": ("onChange", "onSubmit"),
    "checkboxInput": ("onChange",),
    "sliderInput": ("onChange",),
    "collapsibleSection": ("toggle",),
}


class PageValueError(ValueError):
    """The page sent an event the part does not have, or a value of the wrong kind."""


@dataclass
class PageValue:
    call_args: list[Any] = field(default_factory=list)
    stored: Any = None  # None: nothing to remember


def page_value(node: dict[str, Any], event: str, value: Any) -> PageValue:
    kind = str(node.get("type"))
    allowed = _EVENTS.get(kind, ())
    if event not in allowed:
        events = ", ".join(allowed) or "none"
        raise PageValueError(f"ui event: a {kind} part has no {event!r} event (events: {events})")
    if node.get("disabled"):
        raise PageValueError(f"ui event: {kind} {node.get('id')!r} is disabled")
    if node.get("readOnly"):
        raise PageValueError(f"ui event: {kind} {node.get('id')!r} is read-only")
    if kind in ("button", "toolbarButton"):
        return PageValue()
    if kind == "contextMenuButton":
        selection = value if isinstance(value, dict) else {}
        return PageValue(call_args=[{"selection": selection}])
    if kind == "collapsibleSection":
        return PageValue(stored=_bool(value, kind))
    if kind == "checkboxInput":
        checked = _bool(value, kind)
        return PageValue(call_args=[checked], stored=checked)
    if kind == "sliderInput":
        number = _slider(node, value)
        return PageValue(call_args=[number], stored=number)
    if kind == "numberInput":
        text = _number_text(value)
        return PageValue(call_args=[text], stored=_as_number(text))
    text = _text(value, kind)
    return PageValue(call_args=[text], stored=text)


def _bool(value: Any, kind: str) -> bool:
    if not isinstance(value, bool):
        raise PageValueError(f"ui event: a {kind} value must be true or false, got {value!r}")
    return value


def _text(value: Any, kind: str) -> str:
    if not isinstance(value, str):
        raise PageValueError(
            f"ui event: a {kind} value must be a string, got {type(value).__name__}"
        )
    if len(value) > MAX_TEXT_CHARS:
        raise PageValueError(
            f"ui event: a {kind} value is {len(value)} characters (limit {MAX_TEXT_CHARS})"
        )
    return value


def _finite(value: Any, kind: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PageValueError(f"ui event: a {kind} value must be a finite number, got {value!r}")
    return value


def _slider(node: dict[str, Any], value: Any) -> float | int:
    number = _finite(value, "sliderInput")
    low, high = node.get("min"), node.get("max")
    if not node.get("uncapMin") and isinstance(low, int | float) and number < low:
        raise PageValueError(f"ui event: sliderInput value {number} is below its min {low}")
    if not node.get("uncapMax") and isinstance(high, int | float) and number > high:
        raise PageValueError(f"ui event: sliderInput value {number} is above its max {high}")
    if node.get("preventDecimal") and number != int(number):
        raise PageValueError(f"ui event: sliderInput value {number} must be a whole number")
    return int(number) if node.get("preventDecimal") else number


def _number_text(value: Any) -> str:
    """NovelAI passes numberInput values to callbacks as strings (possibly empty)."""
    if isinstance(value, str):
        return _text(value, "numberInput")
    return str(_finite(value, "numberInput"))


def _as_number(text: str) -> float | int | str:
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return int(number) if number.is_integer() and "." not in text else number
