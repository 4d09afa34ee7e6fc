"""``api.v1.editor.*``, ``buildContext`` and ``generateWithStory``: scripts driving the editor.

Every call needs the story editor (``host.editor``, set by ``nai-script serve``); without one
(``nai-script run``) they fail clearly. ``editor.generate`` is Send on the script's behalf,
gated: three calls between user interactions, the fourth refused until the user interacts.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nai_script.editor.context import ContextTooLarge
from nai_script.editor.gate import EditorGenerateRefused
from nai_script.editor.pipeline import EditorBlocked
from nai_script.host.api import generate
from nai_script.host.api.tokens import encode_messages
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.tokenizers import ChatTemplateError, context_size

if TYPE_CHECKING:
    from nai_script.editor.pipeline import Editor

Opts = TypeVar("Opts", bound=BaseModel)
FUNCTIONS: dict[str, Any] = {
    "editor": {"generate": "async", "isBlocked": "async", "selection": {"get": "async"}},
    "buildContext": "async",
    "generateWithStory": "async",
}


def editor_of(ctx: CallContext) -> Editor:
    editor = ctx.host.editor
    if editor is None:
        raise ApiFailure(f"{ctx.name}: this call needs the editor (nai-script serve)")
    return editor


async def _generate(ctx: CallContext) -> None:
    editor = editor_of(ctx)
    ctx.bind()
    script_id = ctx.script.id
    try:
        await editor.gate.take(script_id)
    except EditorGenerateRefused as error:
        raise ApiFailure(str(error)) from None
    try:
        result = await editor.generate_for_script(script_id)
    except EditorBlocked as error:
        await editor.gate.give_back(script_id)
        raise ApiFailure(f"editor.generate: {error}") from None
    if result.error is not None:
        raise ApiFailure(f"editor.generate: {result.error}")


async def _is_blocked(ctx: CallContext) -> bool:
    ctx.bind()
    return editor_of(ctx).is_blocked()


async def _selection_get(ctx: CallContext) -> dict[str, Any]:
    ctx.bind()
    return await editor_of(ctx).selection()


class _Position(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sectionId: str | int
    offset: int | None = None


class StoryContextOptions(BaseModel):
    """``generateWithStory``'s options: ``contextLimitReduction`` tokens are left free,
    ``position`` builds the context as if generating there (the story up to it), and
    ``suppressScriptHooks`` keeps this script's (``self``) or every script's (``all``)
    ``onContextBuilt`` hook out of it."""

    model_config = ConfigDict(extra="forbid")

    contextLimitReduction: int = Field(default=0, ge=0)
    position: _Position | None = None
    suppressScriptHooks: Literal["self", "all"] | None = None


class BuildContextOptions(StoryContextOptions):
    """``buildContext``'s options: ``forGeneration`` is accepted for NovelAI's scripts and
    changes nothing here (the prefix cache only ever sees real generations)."""

    forGeneration: bool = False


def _options(value: Any, what: str, model: type[Opts]) -> Opts:
    try:
        return model.model_validate(value or {})
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, what)) from None


async def _context_messages(
    ctx: CallContext, reduction: int, options: StoryContextOptions
) -> list[dict[str, str]]:
    editor = editor_of(ctx)
    settings = await editor.settings()
    limit = context_size(settings.params.model, editor.tier) - reduction
    if limit < 1:
        raise ApiUsageError(
            f"{ctx.name}: the context limit reduction {reduction} leaves no room "
            f"(the context of {settings.params.model} is {limit + reduction} tokens)"
        )
    position = options.position
    until = None if position is None else (str(position.sectionId), position.offset)
    quiet: set[str] = set()
    if options.suppressScriptHooks == "self":
        quiet = {ctx.script.id}
    elif options.suppressScriptHooks == "all":
        quiet = {script.id for script in ctx.host.scripts}
    try:
        built = await editor.build_context(
            settings, dry_run=True, limit=limit, until=until, quiet=quiet
        )
    except ContextTooLarge as error:
        raise ApiFailure(f"{ctx.name}: {error}") from None
    except ValueError as error:  # a position the document does not have
        raise ApiUsageError(f"{ctx.label} options.{error}") from None
    return built.plain_messages()


async def _build_context(ctx: CallContext) -> list[dict[str, str]]:
    options = _options(ctx.options("options", None), "options", BuildContextOptions)
    return await _context_messages(ctx, options.contextLimitReduction, options)


async def _generate_with_story(ctx: CallContext) -> dict[str, Any]:
    """``buildContext`` sized to leave room for ``messages`` and the output, then
    ``generate`` with the story context followed by ``messages``."""
    bound = ctx.bind(
        ("messages", REQUIRED),
        ("params", REQUIRED),
        ("options", None),
        ("callback", None),
        ("behaviour", "blocking"),
        ("signal", None),
    )
    messages, params = generate.validate_request(bound["messages"], bound["params"])
    options = _options(bound["options"], "options", StoryContextOptions)
    # The slot is the script's from this call on, as generate's is: a generate made while the
    # context is built fails at once instead of taking it (this call then failed, late).
    background = bound["behaviour"] == "background"
    generate.claim_slot(ctx.script, "background" if background else "blocking", params.model)
    try:
        own = len(await encode_messages(ctx.host.tokenizers, params.model, messages))
        reduction = own + params.max_tokens + options.contextLimitReduction
        story = await _context_messages(ctx, reduction, options)
    except ChatTemplateError as error:
        raise ApiUsageError(str(error)) from None
    finally:
        # Handed over: generate claims it again before its first await, nothing runs between.
        ctx.script.generation = None
    call = dataclasses.replace(
        ctx.call,
        args=[
            [*story, *(m.model_dump() for m in messages)],
            bound["params"],
            bound["callback"],
            bound["behaviour"],
            bound["signal"],
        ],
        kwargs={},
    )
    return await generate.ROUTES["v1.generate"](CallContext(ctx.host, ctx.script, call))


ROUTES: dict[str, Route] = {
    "v1.editor.generate": _generate,
    "v1.editor.isBlocked": _is_blocked,
    "v1.editor.selection.get": _selection_get,
    "v1.buildContext": _build_context,
    "v1.generateWithStory": _generate_with_story,
}
