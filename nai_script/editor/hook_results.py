"""What the generation hooks may return, validated per script.

A hook returns ``None`` (no change) or an object; a malformed object is reported to that
script's error log, naming the field, and ignored: one script's mistake never stops the
user's generation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nai_script.editor.context import ChatMessage, ContextEntry, ContextInputs
from nai_script.host.dispatch import first_validation_problem


class _HookResult(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RequestedResult(_HookResult):
    """``onGenerationRequested`` -> ``{stopGeneration?}``."""

    stopGeneration: bool = False


class BeforeBuildResult(_HookResult):
    """``onBeforeContextBuild`` -> changed pieces for this build only (nothing is saved):
    ``lorebookEntries`` replaces the active list, ``addEntries`` appends temporary entries,
    ``contextLimit`` can only lower the limit."""

    systemPrompt: str | None = None
    memory: str | None = None
    authorsNote: str | None = None
    prefill: str | None = None
    storyText: str | None = None
    lorebookEntries: list[ContextEntry] | None = None
    addEntries: list[ContextEntry] = Field(default_factory=list)
    contextLimit: int | None = Field(default=None, ge=1)


class ContextBuiltResult(_HookResult):
    """``onContextBuilt`` -> ``{messages?, stopGeneration?}``."""

    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    stopGeneration: bool = False


class ResponseResult(_HookResult):
    """``onResponse`` -> ``{text?}``: the chunk's text per choice (a string for one)."""

    text: list[str] | None = None

    @field_validator("text", mode="before")
    @classmethod
    def _one_string_is_one_choice(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class AdventureResult(_HookResult):
    """``onTextAdventureInput`` -> ``{text?, stopGeneration?}``."""

    text: str | None = None
    stopGeneration: bool = False


class TextResult(_HookResult):
    """``onDocumentConvertedToText`` -> ``{text?}``."""

    text: str | None = None


ResultT = TypeVar("ResultT", bound=_HookResult)
Reporter = Callable[[str, str], None]


def parse_results(
    hook: str,
    model: type[ResultT],
    results: list[tuple[str, Any]],
    report: Reporter,
) -> list[tuple[str, ResultT]]:
    """Each script's return value as ``model``; ``None`` and bad values are left out (a bad
    value is reported through ``report(script_id, message)``)."""
    parsed: list[tuple[str, ResultT]] = []
    for script_id, value in results:
        if value is None:
            continue
        try:
            parsed.append((script_id, model.model_validate(value)))
        except ValidationError as error:
            report(
                script_id,
                f"hook {hook} returned a bad value: {first_validation_problem(error, 'result')}",
            )
    return parsed


def apply_before_build(
    inputs: ContextInputs, limit: int | None, change: BeforeBuildResult
) -> tuple[ContextInputs, int | None]:
    """The pieces and limit after one script's ``onBeforeContextBuild`` answer."""
    update: dict[str, Any] = {
        name: value
        for name in ("systemPrompt", "memory", "authorsNote", "prefill", "storyText")
        if (value := getattr(change, name)) is not None
    }
    entries = inputs.lorebookEntries if change.lorebookEntries is None else change.lorebookEntries
    update["lorebookEntries"] = [*entries, *change.addEntries]
    if change.contextLimit is not None:
        limit = change.contextLimit if limit is None else min(limit, change.contextLimit)
    return inputs.model_copy(update=update), limit
