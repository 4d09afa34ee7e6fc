"""What the generation hooks may return, validated per script, and how scripts are asked.

A hook returns ``None`` (no change) or an object in NovelAI's shape; a malformed object is
reported to that script's error log, naming the field, and ignored: one script's mistake
never stops the user's generation.

``fire_chain`` asks the scripts one at a time, in load order, each awaited before the next is
asked. Every script gets the same params (as the pipeline made them, not as earlier scripts'
answers changed them); the answers are applied in load order, so for one field the last
script's answer wins. ``stopFurtherScripts: true`` in an answer (one that was not refused)
means the scripts after it are not asked this hook for this call; a ``stopGeneration`` that
takes effect ends the chain too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
)

from nai_script.editor.context import ChatMessage
from nai_script.host.dispatch import first_validation_problem

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost

AdventureMode = Literal["action", "dialogue", "story"]
ADVENTURE_MODES: tuple[AdventureMode, ...] = get_args(AdventureMode)


class BadResult(ValueError):
    """An answer that parsed but cannot be used (``result.<field>: why``); it is ignored."""


class _HookResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    stopFurtherScripts: bool = False


class EndResult(_HookResult):
    """``onGenerationEnd`` -> ``{stopFurtherScripts?}``."""


class RequestedResult(_HookResult):
    """``onGenerationRequested`` -> ``{stopFurtherScripts?, stopGeneration?}``."""

    stopGeneration: bool = False


class ContextBuiltResult(_HookResult):
    """``onContextBuilt`` -> ``{stopFurtherScripts?, messages?, stopGeneration?}``."""

    messages: list[ChatMessage] | None = Field(default=None, min_length=1)
    stopGeneration: bool = False


class ResponseResult(_HookResult):
    """``onResponse`` -> ``{stopFurtherScripts?, stopGeneration?, text?, tokenIds?,
    logprobs?, seenData?}``: ``text`` replaces the call's entries (a string is one entry);
    ``hook_params.ResponseCalls`` checks the lengths against the entries and applies it."""

    text: list[str] | None = None
    tokenIds: list[list[int]] | None = None
    logprobs: list[list[dict[str, Any]]] | None = None
    seenData: StrictBool | StrictInt | None = None
    stopGeneration: bool = False

    @field_validator("text", mode="before")
    @classmethod
    def _one_string_is_one_entry(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def one_line(text: str) -> str:
    """NovelAI: "Newlines are not allowed in the input text and will be replaced with space"."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


class AdventureResult(_HookResult):
    """``onTextAdventureInput`` -> ``{stopFurtherScripts?, inputText?, mode?,
    stopGeneration?}`` (newlines in ``inputText`` become spaces)."""

    inputText: str | None = None
    mode: AdventureMode | None = None
    stopGeneration: bool = False

    @field_validator("inputText")
    @classmethod
    def _no_newlines(cls, value: str | None) -> str | None:
        return None if value is None else one_line(value)


class SectionText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    sectionId: str
    text: str


class SectionsResult(_HookResult):
    """``onDocumentConvertedToText`` -> ``{stopFurtherScripts?, sections?}``: every section
    given, same ids, same order (``checked_sections``)."""

    sections: list[SectionText] | None = None


def checked_sections(
    given: list[dict[str, str]], answer: list[SectionText]
) -> list[dict[str, str]]:
    """``answer`` as params, if it lists exactly the ``given`` section ids in order."""
    ids = [section["sectionId"] for section in given]
    got = [section.sectionId for section in answer]
    if got != ids:
        raise BadResult(
            f"result.sections: must include all {len(ids)} sections that were provided, with "
            f"the same sectionIds in the same order (got {_ids(got)}, expected {_ids(ids)})"
        )
    return [section.model_dump() for section in answer]


def _ids(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return f"[{shown}{', ...' if len(ids) > 5 else ''}]"


class PieceChange(BaseModel):
    """``{active?, content}`` for systemPrompt, prefill, memory, authorsNote, storyText."""

    model_config = ConfigDict(extra="ignore")

    active: bool | None = None
    content: str


class EntryChange(BaseModel):
    model_config = ConfigDict(extra="ignore")

    active: bool | None = None
    content: str | None = None


class TemporaryEntry(BaseModel):
    """A lorebook entry for this build only. ``appearWithPermanent`` is accepted and has no
    effect: every entry goes into the system message, in the entry order."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    name: str
    content: str
    active: bool = True
    appearWithPermanent: bool = False


class BeforeBuildResult(_HookResult):
    """``onBeforeContextBuild`` -> changes for this build only (nothing is saved); applied by
    ``hook_params.ContextBuild.apply``."""

    lorebookEntries: list[tuple[str, EntryChange]] | None = None
    temporaryLorebookEntries: list[TemporaryEntry] = Field(default_factory=list)
    lorebookEntryOrder: list[str] | None = None
    systemPrompt: PieceChange | None = None
    prefill: PieceChange | None = None
    memory: PieceChange | None = None
    authorsNote: PieceChange | None = None
    storyText: PieceChange | None = None
    contextLimitReduction: int = Field(default=0, ge=0)


ResultT = TypeVar("ResultT", bound=_HookResult)
Reporter = Callable[[str, str], None]
#: Uses one script's answer (may raise ``BadResult``); True: ask no further script.
Apply = Callable[[str, ResultT], bool]


def parse_result(
    hook: str, model: type[ResultT], script_id: str, value: Any, report: Reporter
) -> ResultT | None:
    """The return value as ``model``; ``None`` for none or a bad one (reported through
    ``report(script_id, message)``)."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as error:
        report(
            script_id,
            f"hook {hook} returned a bad value: {first_validation_problem(error, 'result')}",
        )
        return None


async def fire_chain(
    host: ScriptHost,
    hook: str,
    params: dict[str, Any],
    model: type[ResultT],
    apply: Apply[ResultT],
    report: Reporter,
    quiet: Collection[str] = (),
) -> str | None:
    """Ask each script (but those in ``quiet``) that registered ``hook``, one at a time in
    load order, with ``params``, and hand each answer to ``apply``; see the module docstring.
    A hook that raises or times out is reported by the host and skipped. Returns the script
    whose answer ``apply`` took as a stop (it returned True), or None."""
    async with contextlib.aclosing(host.hook_answers(hook, params, skip=quiet)) as answers:
        async for script_id, value in answers:
            answer = parse_result(hook, model, script_id, value, report)
            if answer is None:
                continue
            try:
                stop = apply(script_id, answer)
            except BadResult as bad:
                report(script_id, f"hook {hook} returned a bad value: {bad}")
                continue
            if stop:
                return script_id
            if answer.stopFurtherScripts:
                return None
    return None
