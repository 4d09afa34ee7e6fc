"""``api.v1.ui.*``: extensions, parts, toasts, windows and modals, drawn by the editor page.

The state lives in ``nai_script.editor.ui_state.UiState`` (``host.ui``, set by ``serve``); this
module only maps NovelAI's call shapes onto it. Without a page (``nai-script run``) every call
fails clearly rather than pretending a button exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nai_script.editor.ui_parts import (
    EXTENSION_TYPES,
    PART_TYPES,
    UiValidationError,
    validate_extensions,
    validate_parts,
)
from nai_script.host.dispatch import (
    REQUIRED,
    ApiFailure,
    ApiUsageError,
    CallContext,
    HostObject,
    Route,
    as_list,
)
from sandbox.protocol import CallbackHandle, RemoteObject

if TYPE_CHECKING:
    from nai_script.editor.ui_state import OpenWindow, UiState, WindowKind

WINDOW_METHODS: dict[str, Any] = {"update": "async", "close": "async", "isClosed": "sync"}
_CALLS = ("register", "update", "remove", "updateParts", "removeParts", "toast")
# For surface.FUNCTIONS: every ui call returns a promise in NovelAI's api.
FUNCTIONS: dict[str, Any] = {
    **dict.fromkeys((*_CALLS, "openPanel", "closePanel"), "async"),
    "window": {"open": "async"},
    "modal": {"open": "async"},
    "larry": {"help": "sync"},
    "part": dict.fromkeys(PART_TYPES, "sync"),
    "extension": dict.fromkeys(EXTENSION_TYPES, "sync"),
}


def ui_state(ctx: CallContext) -> UiState:
    state = getattr(ctx.host, "ui", None)
    if state is None:
        raise ApiFailure(f"{ctx.name}: this call needs the editor page (nai-script serve)")
    return state


class WindowHandle(HostObject):
    """What ``ui.window.open`` / ``ui.modal.open`` return: ``update``, ``close``, ``isClosed``
    and the awaitable ``closed`` (resolves when the script or the page closes the window).
    ``open`` and ``update`` take their options as a dict or as keyword arguments (SPEC 4)."""

    def __init__(self, state: UiState, window: OpenWindow) -> None:
        self.state = state
        self.window = window

    @property
    def label(self) -> str:  # type: ignore[override]
        return f"ui.{self.window.kind}"

    async def api_update(self, ctx: CallContext) -> None:
        options = ctx.options("options")
        if self.window.closed.is_set():
            raise ApiFailure(f"ui.{self.window.kind}.update: the {self.window.kind} is closed")
        try:
            await self.state.update_window(ctx.script, self.window.id, options)
        except UiValidationError as error:
            raise ApiUsageError(f"ui.{self.window.kind}.{error}") from None

    async def api_close(self, ctx: CallContext) -> None:
        ctx.bind()
        await self.state.close_window(ctx.script, self.window.id)

    async def api_isClosed(self, ctx: CallContext) -> bool:
        return self.window.closed.is_set()

    async def api_closed(self, ctx: CallContext) -> None:
        await self.window.closed.wait()


def _usage(call: str) -> Any:
    """Run a UiState call, turning its validation errors into the script's ``ValueError``."""

    def wrap(fn: Any) -> Route:
        async def route(ctx: CallContext) -> Any:
            try:
                return await fn(ctx, ui_state(ctx))
            except UiValidationError as error:
                raise ApiUsageError(str(error)) from None

        route.__name__ = call
        return route

    return wrap


@_usage("register")
async def _register(ctx: CallContext, state: UiState) -> None:
    await state.register(ctx.script, ctx.bind(("extensions", REQUIRED))["extensions"])


@_usage("update")
async def _update(ctx: CallContext, state: UiState) -> None:
    await state.update(ctx.script, ctx.bind(("extensions", REQUIRED))["extensions"])


@_usage("remove")
async def _remove(ctx: CallContext, state: UiState) -> None:
    await state.remove(ctx.script, ctx.bind(("ids", REQUIRED))["ids"])


@_usage("updateParts")
async def _update_parts(ctx: CallContext, state: UiState) -> None:
    missing = await state.update_parts(ctx.script, ctx.bind(("parts", REQUIRED))["parts"])
    if missing:  # NovelAI drops these silently; say so in the script's log instead
        ctx.host.emit_log(
            ctx.script, "error", f"ui.updateParts: no part with id {', '.join(map(repr, missing))}"
        )


@_usage("removeParts")
async def _remove_parts(ctx: CallContext, state: UiState) -> None:
    await state.remove_parts(ctx.script, ctx.bind(("ids", REQUIRED))["ids"])


@_usage("toast")
async def _toast(ctx: CallContext, state: UiState) -> None:
    bound = ctx.bind(("message", REQUIRED), ("options", None))
    state.toast(ctx.script, bound["message"], bound["options"])


def _opener(kind: WindowKind) -> Route:
    @_usage(f"{kind}.open")
    async def open_window(ctx: CallContext, state: UiState) -> RemoteObject:
        options = ctx.options("options")
        if ctx.script.worker is not None:
            # Refused before it shows: a window made and then refused would stay open.
            ctx.script.worker.check_remote_room()
        window = await state.open_window(ctx.script, kind, options)
        return RemoteObject(
            target=WindowHandle(state, window),
            methods=dict(WINDOW_METHODS),
            awaitables=("closed",),
            values={"id": window.id},
        )

    return open_window


@_usage("openPanel")
async def _open_panel(ctx: CallContext, state: UiState) -> None:
    state.panel(ctx.script, ctx.bind(("id", REQUIRED))["id"])


@_usage("closePanel")
async def _close_panel(ctx: CallContext, state: UiState) -> None:
    ctx.bind()
    state.panel(ctx.script, None)


@_usage("larry.help")
async def _larry_help(ctx: CallContext, state: UiState) -> None:
    """``ui.larry.help({question, options?})``: a small "Larry" modal with the question and one
    button per option (a click runs the option's callback and closes the modal). With no
    options, Yes and No buttons that only close it: there is no Larry generation here. Keys
    other than ``question``/``options`` (the d.ts allows any) are ignored. Sync in NovelAI;
    the modal is open when the call returns."""
    name = "ui.larry.help"
    config = ctx.options("config")
    if not isinstance(config, dict):
        raise ApiUsageError(f"{name} config: must be a dict, got {type(config).__name__}")
    question = config.get("question")
    if not isinstance(question, str):
        raise ApiUsageError(f"{name} question: must be a string, got {type(question).__name__}")
    options = config.get("options")
    buttons: list[tuple[str, CallbackHandle | None]] = []
    listed = [] if options is None else as_list(options, f"{name} options")
    for index, option in enumerate(listed):
        where = f"{name} options[{index}]"
        if not isinstance(option, dict):
            raise ApiUsageError(f"{where}: must be a dict, got {type(option).__name__}")
        text, callback = option.get("text"), option.get("callback")
        if not isinstance(text, str):
            raise ApiUsageError(f"{where}.text: must be a string, got {type(text).__name__}")
        if not isinstance(callback, CallbackHandle):
            raise ApiUsageError(
                f"{where}.callback: must be a function, got {type(callback).__name__}"
            )
        buttons.append((text, callback))
    await state.open_larry(ctx.script, question, buttons or [("Yes", None), ("No", None)])


def _maker(kind: str, type_name: str) -> Route:
    """``ui.part.<type>(config)`` / ``ui.extension.<type>(config)``: the config with its
    ``type`` filled in (NovelAI's helpers), checked now so a mistake is reported where made.
    Keyword arguments work too: ``ui.part.text(text="hi")``."""

    async def make(ctx: CallContext) -> dict[str, Any]:
        name = f"ui.{kind}.{type_name}"
        config = ctx.options("config", {})
        if not isinstance(config, dict):
            raise ApiUsageError(f"{name} config: must be a dict, got {type(config).__name__}")
        made = {**config, "type": type_name}
        check = validate_parts if kind == "part" else validate_extensions
        try:
            check([made], name)
        except UiValidationError as error:
            raise ApiUsageError(str(error).replace(f"{name}[0]", name, 1)) from None
        return made

    return make


ROUTES: dict[str, Route] = {
    **{f"v1.ui.part.{t}": _maker("part", t) for t in PART_TYPES},
    **{f"v1.ui.extension.{t}": _maker("extension", t) for t in EXTENSION_TYPES},
    "v1.ui.register": _register,
    "v1.ui.update": _update,
    "v1.ui.remove": _remove,
    "v1.ui.updateParts": _update_parts,
    "v1.ui.removeParts": _remove_parts,
    "v1.ui.toast": _toast,
    "v1.ui.openPanel": _open_panel,
    "v1.ui.closePanel": _close_panel,
    "v1.ui.window.open": _opener("window"),
    "v1.ui.modal.open": _opener("modal"),
    "v1.ui.larry.help": _larry_help,
}
