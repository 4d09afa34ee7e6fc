"""``api.v1.clipboard.writeText`` and ``api.v1.file.save`` / ``api.v1.file.prompt``: carried
out by the editor page (``host.page_requests``, an ``editor.page_requests.PageRequests`` set
by ``serve``). Without an open page each call fails at once.

Order of checks: the permission first (``clipboardWrite``, ``fileDownload``, ``fileInput``),
then the arguments, then the page. The page's answer is checked again here (size, shape):
the page is less trusted than the host.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from nai_script.editor.page_requests import PageRequestFailed
from nai_script.host.api.basics import require_permission
from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route
from sandbox.api_schema import ASYNC

FUNCTIONS: dict[str, Any] = {
    "clipboard": {"writeText": ASYNC},
    "file": {"prompt": ASYNC, "save": ASYNC},
}

MIB = 1024 * 1024
#: Text a script may copy or save.
MAX_TEXT_BYTES = 1 * MIB
#: What ``file.prompt`` may bring back, all files together (text as UTF-8, data URLs as
#: their characters). Below the page socket's 4 MiB message limit, with room for the JSON.
MAX_READ_BYTES = 3 * MIB
MAX_FILENAME_CHARS = 255
READ_AS = ("text", "dataURL")
_PROMPT_OPTIONS = ("multiple", "accept", "readAs", "encoding")
_ENCODING = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _size(n: int) -> str:
    return f"{n / MIB:g} MiB" if n % MIB == 0 else f"{n} bytes"


def _text(ctx: CallContext, name: str, value: Any, cap: int) -> str:
    if not isinstance(value, str):
        raise ApiUsageError(f"{ctx.label} {name}: must be a string, got {type(value).__name__}")
    size = _utf8_size(value)
    if size > cap:
        raise ApiUsageError(f"{ctx.label} {name}: is {size} bytes; at most {_size(cap)}")
    return value


def _filename(ctx: CallContext, value: Any) -> str:
    """A plain file name: the browser saves it in its downloads folder, never elsewhere."""
    name = _text(ctx, "filename", value, MAX_FILENAME_CHARS * 4)
    where = f"{ctx.label} filename"
    if not name.strip():
        raise ApiUsageError(f"{where}: must not be empty")
    if "/" in name or "\\" in name:
        raise ApiUsageError(f"{where}: must be a file name, without '/' or '\\' ({name!r})")
    if _CONTROL.search(name):
        raise ApiUsageError(f"{where}: must not hold control characters ({name!r})")
    if name.strip() in (".", ".."):
        raise ApiUsageError(f"{where}: must be a file name, not {name!r}")
    if len(name) > MAX_FILENAME_CHARS:
        raise ApiUsageError(f"{where}: at most {MAX_FILENAME_CHARS} characters, got {len(name)}")
    return name


async def _ask(
    ctx: CallContext, fields: dict[str, Any], check: Callable[[Any], Any] | None = None
) -> Any:
    """The page's answer; writes pass no ``check``: whatever the page sent along is dropped."""
    page = ctx.host.page_requests
    if page is None:
        raise ApiFailure(f"{ctx.label}: no editor page is open (this call needs nai-script serve)")
    try:
        return await page.ask(ctx.script, ctx.label, fields, check=check)
    except PageRequestFailed as error:
        raise ApiFailure(f"{ctx.label}: {error}") from None


async def _clipboard_write_text(ctx: CallContext) -> None:
    require_permission(ctx, "clipboardWrite")
    text = _text(ctx, "text", ctx.bind(("text", REQUIRED))["text"], MAX_TEXT_BYTES)
    await _ask(ctx, {"text": text})


async def _file_save(ctx: CallContext) -> None:
    require_permission(ctx, "fileDownload")
    bound = ctx.bind(("filename", REQUIRED), ("content", REQUIRED))
    filename = _filename(ctx, bound["filename"])
    content = _text(ctx, "content", bound["content"], MAX_TEXT_BYTES)
    await _ask(ctx, {"filename": filename, "content": content})


def _prompt_options(ctx: CallContext) -> dict[str, Any]:
    raw = ctx.options("options", None)
    options: dict[str, Any] = {} if raw is None else raw
    if not isinstance(options, dict):
        raise ApiUsageError(f"file.prompt options: must be a dict, got {type(raw).__name__}")
    for key in options:
        if key not in _PROMPT_OPTIONS:
            known = ", ".join(_PROMPT_OPTIONS)
            raise ApiUsageError(f"file.prompt options.{key}: unknown option (options: {known})")
    multiple = options.get("multiple", False)
    if not isinstance(multiple, bool):
        raise ApiUsageError(
            f"file.prompt options.multiple: must be a bool, got {type(multiple).__name__}"
        )
    accept = options.get("accept", "")
    if not isinstance(accept, str) or len(accept) > 1000 or _CONTROL.search(accept):
        raise ApiUsageError(
            "file.prompt options.accept: must be a string of at most 1000 characters "
            f"(like '.txt,text/plain'), got {accept!r:.60}"
        )
    read_as = options.get("readAs", "text")
    if read_as == "arrayBuffer":
        raise ApiUsageError(
            "file.prompt options.readAs: 'arrayBuffer' is not supported here (a script gets "
            "no ArrayBuffer); use 'dataURL': the bytes as base64 after the comma"
        )
    if read_as not in READ_AS:
        raise ApiUsageError(
            f"file.prompt options.readAs: must be 'text' or 'dataURL', got {read_as!r}"
        )
    encoding = options.get("encoding", "utf-8")
    if not isinstance(encoding, str) or not _ENCODING.fullmatch(encoding):
        raise ApiUsageError(
            f"file.prompt options.encoding: must be an encoding label like 'utf-8', got {encoding!r}"
        )
    return {"multiple": multiple, "accept": accept, "readAs": read_as, "encoding": encoding}


def _check_read(multiple: bool) -> Callable[[Any], str | list[str] | None]:
    """The page's files: None (nothing chosen), one string, or a list of them if ``multiple``."""

    def check(value: Any) -> str | list[str] | None:
        if value is None:
            return None
        texts = value if multiple else [value]
        if not isinstance(texts, list) or not all(isinstance(item, str) for item in texts):
            shape = "a list of strings" if multiple else "a string"
            raise ValueError(f"the files must come as {shape}, got {type(value).__name__}")
        read: list[str] = texts
        total = sum(_utf8_size(item) for item in read)
        if total > MAX_READ_BYTES:
            raise ValueError(f"the files read are {total} bytes; at most {_size(MAX_READ_BYTES)}")
        return read if multiple else read[0]

    return check


async def _file_prompt(ctx: CallContext) -> Any:
    """What was read: a string (a list of them with ``multiple``), or None if nothing was
    chosen."""
    require_permission(ctx, "fileInput")
    options = _prompt_options(ctx)
    return await _ask(
        ctx, {**options, "maxBytes": MAX_READ_BYTES}, _check_read(options["multiple"])
    )


ROUTES: dict[str, Route] = {
    "v1.clipboard.writeText": _clipboard_write_text,
    "v1.file.save": _file_save,
    "v1.file.prompt": _file_prompt,
}
