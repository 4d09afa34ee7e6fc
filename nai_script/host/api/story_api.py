"""The story's settings and lorebook for scripts: ``memory``, ``an``, ``systemPrompt``,
``prefill``, ``generationParameters``, ``story`` and ``lorebook``.

Reads are free; writes need ``storyEdit`` (settings) or ``lorebookEdit`` (lorebook), and are
published to the page as they land. Bad values fail naming the field, and nothing is saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from nai_script.editor.lorebook import key_errors
from nai_script.editor.models import GenerationParams, LorebookCategory, LorebookEntry
from nai_script.editor.store import StoryError
from nai_script.host.api.basics import require_permission
from nai_script.host.api.editor_api import editor_of
from nai_script.host.api.tokens import model_name
from nai_script.host.dispatch import (
    REQUIRED,
    ApiUsageError,
    CallContext,
    Route,
    first_validation_problem,
)
from nai_script.tokenizers import UnknownModelError, context_size

if TYPE_CHECKING:
    from nai_script.editor.pipeline import Editor

T = TypeVar("T")
M = TypeVar("M", LorebookEntry, LorebookCategory)
Lore = tuple[list[LorebookEntry], list[LorebookCategory]]  # what ``Editor.lorebook`` returns
# NovelAI's namespace -> the StorySettings field behind it.
TEXT_SETTINGS = {
    "memory": "memory",
    "an": "authorsNote",
    "systemPrompt": "systemPrompt",
    "prefill": "prefill",
}
_WITH_DEFAULT = ("systemPrompt", "prefill")
_LOREBOOK = (
    "entries",
    "entry",
    "categories",
    "category",
    "createEntry",
    "updateEntry",
    "removeEntry",
    "createCategory",
    "updateCategory",
    "removeCategory",
)
FUNCTIONS: dict[str, Any] = {
    **{
        name: dict.fromkeys(
            ("get", "set", *(("getDefault",) if name in _WITH_DEFAULT else ())), "async"
        )
        for name in TEXT_SETTINGS
    },
    "generationParameters": {"get": "async", "update": "async"},
    "story": {
        "id": "async",
        "title": {"get": "async", "set": "async"},
        "description": {"get": "async", "set": "async"},
    },
    "lorebook": dict.fromkeys(_LOREBOOK, "async"),
}


async def _update_settings(ctx: CallContext, patch: dict[str, Any], what: str) -> Any:
    require_permission(ctx, "storyEdit")
    try:
        return await editor_of(ctx).update_settings(patch)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, what)) from None


def _text_routes(namespace: str, field: str) -> dict[str, Route]:
    """``v1.<namespace>.get/set`` over one string field of the story settings."""

    async def get(ctx: CallContext) -> str:
        ctx.bind()
        return str(getattr(await editor_of(ctx).settings(), field))

    # NovelAI's parameter: ``memory.set(text)``, ``story.title.set(title)``.
    param = field if namespace.startswith("story.") else "text"

    async def set_(ctx: CallContext) -> None:
        text = ctx.bind((param, REQUIRED))[param]
        if text is None and namespace in _WITH_DEFAULT:
            text = ""  # NovelAI: undefined or "" means the default
        if not isinstance(text, str):
            raise ApiUsageError(
                f"{namespace}.set {param}: must be a string, got {type(text).__name__}"
            )
        await _update_settings(ctx, {field: text}, "")

    async def get_default(ctx: CallContext) -> str:
        ctx.bind()
        return ""

    routes: dict[str, Route] = {f"v1.{namespace}.get": get, f"v1.{namespace}.set": set_}
    if namespace in _WITH_DEFAULT:
        routes[f"v1.{namespace}.getDefault"] = get_default
    return routes


async def _params_get(ctx: CallContext) -> dict[str, Any]:
    ctx.bind()
    return (await editor_of(ctx).settings()).params.model_dump()


async def _params_update(ctx: CallContext) -> None:
    """Merge ``params`` (a dict or keywords, SPEC 4) into the story's parameters; resolves to
    None (``Promise<void>``)."""
    patch = ctx.options("params")
    if not isinstance(patch, dict):
        raise ApiUsageError("generationParameters.update params: must be an object")
    unknown = sorted(set(patch) - set(GenerationParams.model_fields))
    if unknown:
        raise ApiUsageError(f"params.{unknown[0]}: not a generation parameter")
    if "model" in patch:
        # Checked here, not at the next Send or buildContext, which would fail on it.
        try:
            context_size(model_name(patch["model"], "params.model"), editor_of(ctx).tier)
        except UnknownModelError as error:
            raise ApiUsageError(f"params.model: {error}") from None
    await _update_settings(ctx, {"params": patch}, "")


async def _story_id(ctx: CallContext) -> str:
    ctx.bind()
    return editor_of(ctx).story_id


# ------------------------------------------------------------------------------ lorebook


async def _entries(ctx: CallContext) -> list[dict[str, Any]]:
    category = ctx.bind(("category", None))["category"]
    entries, _ = await editor_of(ctx).lorebook()
    return [e.model_dump() for e in entries if category is None or e.category == category]


async def _entry(ctx: CallContext) -> dict[str, Any] | None:
    entry_id = ctx.bind(("entryId", REQUIRED))["entryId"]
    entries, _ = await editor_of(ctx).lorebook()
    return next((e.model_dump() for e in entries if e.id == entry_id), None)


async def _categories(ctx: CallContext) -> list[dict[str, Any]]:
    ctx.bind()
    _, categories = await editor_of(ctx).lorebook()
    return [c.model_dump() for c in categories]


async def _category(ctx: CallContext) -> dict[str, Any] | None:
    category_id = ctx.bind(("categoryId", REQUIRED))["categoryId"]
    _, categories = await editor_of(ctx).lorebook()
    return next((c.model_dump() for c in categories if c.id == category_id), None)


def _validated_entry(value: Any, what: str) -> LorebookEntry:
    try:
        entry = LorebookEntry.model_validate(value)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, what)) from None
    problems = key_errors(entry)
    if problems:
        raise ApiUsageError(f"{what}.keys: {problems[0]}")
    return entry


def _validated_category(value: Any, what: str) -> LorebookCategory:
    try:
        return LorebookCategory.model_validate(value)
    except ValidationError as error:
        raise ApiUsageError(first_validation_problem(error, what)) from None


async def _lorebook_write(ctx: CallContext, write: Callable[[Editor], Awaitable[T]]) -> T:
    require_permission(ctx, "lorebookEdit")
    try:
        return await write(editor_of(ctx))
    except StoryError as error:
        raise ApiUsageError(f"{ctx.name}: {error}") from None


async def _created(
    ctx: CallContext,
    kind: str,
    validate: Callable[[Any, str], M],
    current_of: Callable[[Lore], list[M]],
    put: Callable[[Editor, M], Awaitable[M]],
) -> str:
    """``create<Kind>(item)`` (or its fields as keywords, SPEC 4): a new item; an id already
    in use is refused (update<Kind>)."""
    value = ctx.options(kind)
    if not isinstance(value, dict):
        raise ApiUsageError(f"{kind}: must be an object")
    item = validate(value, kind)
    require_permission(ctx, "lorebookEdit")
    if any(old.id == item.id for old in current_of(await editor_of(ctx).lorebook())):
        raise ApiUsageError(
            f"{kind}.id: lorebook {kind} {item.id!r} already exists (use update{kind.title()})"
        )
    saved = await _lorebook_write(ctx, lambda editor: put(editor, item))
    return str(saved.id)


async def _create_entry(ctx: CallContext) -> str:
    return await _created(
        ctx, "entry", _validated_entry, lambda lore: lore[0], lambda e, item: e.put_entry(item)
    )


async def _patched(
    ctx: CallContext,
    kind: str,
    current_of: Callable[[Lore], list[Any]],
    validate: Callable[[Any, str], M],
) -> M:
    """``update<Kind>(id, fields)``: the stored item with ``fields`` merged in, validated."""
    bound = ctx.bind(("id", REQUIRED), (kind, REQUIRED))
    if not isinstance(bound[kind], dict):
        raise ApiUsageError(f"{kind}: must be an object with the fields to change")
    require_permission(ctx, "lorebookEdit")
    items = current_of(await editor_of(ctx).lorebook())
    current = next((item for item in items if item.id == bound["id"]), None)
    if current is None:
        raise ApiUsageError(f"id: no lorebook {kind} {bound['id']!r}")
    return validate({**current.model_dump(), **bound[kind], "id": current.id}, kind)


async def _update_entry(ctx: CallContext) -> None:
    merged = await _patched(ctx, "entry", lambda lore: lore[0], _validated_entry)
    await _lorebook_write(ctx, lambda editor: editor.put_entry(merged))


async def _remove_entry(ctx: CallContext) -> None:
    entry_id = ctx.bind(("id", REQUIRED))["id"]
    await _lorebook_write(ctx, lambda editor: editor.delete_entry(str(entry_id)))


async def _create_category(ctx: CallContext) -> str:
    return await _created(
        ctx,
        "category",
        _validated_category,
        lambda lore: lore[1],
        lambda e, item: e.put_category(item),
    )


async def _update_category(ctx: CallContext) -> None:
    merged = await _patched(ctx, "category", lambda lore: lore[1], _validated_category)
    await _lorebook_write(ctx, lambda editor: editor.put_category(merged))


async def _remove_category(ctx: CallContext) -> None:
    category_id = ctx.bind(("id", REQUIRED))["id"]
    await _lorebook_write(ctx, lambda editor: editor.delete_category(str(category_id)))


ROUTES: dict[str, Route] = {
    **{
        path: route
        for namespace, field in TEXT_SETTINGS.items()
        for path, route in _text_routes(namespace, field).items()
    },
    "v1.generationParameters.get": _params_get,
    "v1.generationParameters.update": _params_update,
    "v1.story.id": _story_id,
    **_text_routes("story.title", "title"),
    **_text_routes("story.description", "description"),
    "v1.lorebook.entries": _entries,
    "v1.lorebook.entry": _entry,
    "v1.lorebook.categories": _categories,
    "v1.lorebook.category": _category,
    "v1.lorebook.createEntry": _create_entry,
    "v1.lorebook.updateEntry": _update_entry,
    "v1.lorebook.removeEntry": _remove_entry,
    "v1.lorebook.createCategory": _create_category,
    "v1.lorebook.updateCategory": _update_category,
    "v1.lorebook.removeCategory": _remove_category,
}
