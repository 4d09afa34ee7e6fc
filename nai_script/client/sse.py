"""An incremental Server-Sent Events decoder that gives the same events however the bytes arrive.

It follows the WHATWG event-stream rules: lines end in CRLF, LF or CR (a CR at the end of one
chunk and an LF at the start of the next are one line end); a leading BOM is dropped once;
`:` lines are comments; `data:` lines join with newlines; `event:`, `id:` (sticky across events,
ignored if it contains NUL) and `retry:` (digits only) are honoured; a blank line dispatches.
It works on bytes and decodes UTF-8 only for complete lines, so a character split across
chunks is never mangled (line ends are ASCII and cannot occur inside a multi-byte character).

One deliberate leniency: `flush()` at the end of the stream treats an unterminated last line as
a line and dispatches a pending event, because some OpenAI-compatible servers end with
`data: [DONE]` and no blank line. Callers decide whether a stream ended properly.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOM = b"\xef\xbb\xbf"


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event. `id` is the last event id seen so far in the stream."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """Feed it bytes as they arrive; it returns the events completed by each chunk."""

    __slots__ = ("_bom_checked", "_buffer", "_data", "_event", "_last_id", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._buffer = b""
        self._bom_checked = False
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Consume `chunk`; return the events it completed (possibly none)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
                if not chunk:
                    return []
        buf = self._buffer + chunk if self._buffer else chunk
        if not self._bom_checked:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._buffer = buf  # could still become a BOM; wait for more bytes
                return []
            self._bom_checked = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        if b"\r" in buf:
            if buf.endswith(b"\r"):
                self._skip_lf = True  # the LF of a CRLF may arrive in the next chunk
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._buffer = lines.pop()
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            # Fast paths for the two lines every event has; the rest go the general way.
            if line[:6] == b"data: ":
                data.append(line[6:].decode("utf-8", "replace"))
            elif not line and data:
                events.append(
                    ServerSentEvent(
                        self._event or "message", "\n".join(data), self._last_id, self._retry
                    )
                )
                data.clear()
                self._event = ""
                self._retry = None
            else:
                self._process_line(line, events)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: process an unterminated last line and dispatch any pending event."""
        events: list[ServerSentEvent] = []
        rest = self._buffer
        self._buffer = b""
        if not self._bom_checked:
            self._bom_checked = True
            if rest == _BOM:
                rest = b""
        if rest:
            self._process_line(rest, events)
        self._process_line(b"", events)
        return events

    def _process_line(self, line: bytes, events: list[ServerSentEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    ServerSentEvent(
                        event=self._event or "message",
                        data="\n".join(self._data),
                        id=self._last_id,
                        retry=self._retry,
                    )
                )
                self._data.clear()
            self._event = ""
            self._retry = None
            return
        if line[0] == 0x3A:  # ":" comment
            return
        colon = line.find(b":")
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\x00" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)
        # any other field name is ignored, as the standard says
