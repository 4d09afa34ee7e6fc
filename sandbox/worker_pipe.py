"""The worker's end of the pipe to the host: frames out, corked so that what one loop
iteration says leaves in one write (one wake-up of the host), and frames in, read without
ever blocking the loop on an empty pipe.

On the worker's import path, so pydantic-free (see ``sandbox.worker``).
"""

from __future__ import annotations

import os
import select
import time
from typing import Any

from sandbox.wire import (
    HEADER,
    FrameDecoder,
    FrameTooLarge,
    ProtocolError,
    decode_payload,
    encode_frame,
)

#: The worker exits with this when the host sent a frame it cannot read.
PROTOCOL_EXIT_CODE = 71
#: The longest a queued frame waits for the loop to be about to block (``send_soon``).
HOLD_S = 0.002


class WorkerPipe:
    """Frames to and from the host over two descriptors (the worker's private copies)."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd = in_fd
        self._out = out_fd
        self.decoder = FrameDecoder()
        self._outbox: list[bytes] = []
        self.queued_at = 0.0  # when the oldest frame in the outbox was queued
        os.set_blocking(in_fd, False)
        self._poller = select.poll()
        self._poller.register(in_fd, select.POLLIN)

    # --- out ------------------------------------------------------------------------------

    def frame(self, message: dict[str, Any]) -> bytes:
        """The message's frame; one over the host's frame limit is refused here, as the
        script's error, instead of being sent for the host to stop the worker over it."""
        frame = encode_frame(message)
        size, limit = len(frame) - HEADER.size, self.decoder.max_frame_bytes
        if size > limit:
            raise FrameTooLarge(f"{size} bytes of data; one message may carry at most {limit}")
        return frame

    def send(self, message: dict[str, Any]) -> None:
        """Write now (after anything queued by ``send_soon``, which keeps its order)."""
        self.send_frame(self.frame(message))

    def send_frame(self, frame: bytes) -> None:
        self._outbox.append(frame)
        self.flush()

    def send_soon(self, message: dict[str, Any]) -> None:
        """Queue a frame until ``flush_held`` lets it go, or something is written at once: an
        invocation's result and the api call the script makes right after it (a ``generate``
        loop), or the status frame, then go in one write, waking the host once."""
        self.queue(self.frame(message))

    def queue(self, frame: bytes) -> None:
        if not self._outbox:
            self.queued_at = time.monotonic()
        self._outbox.append(frame)

    def flush_held(self, blocking: bool) -> None:
        """Once per loop iteration: write what is queued if the loop is about to block, or
        once the oldest frame has waited ``HOLD_S``."""
        if self._outbox and (blocking or time.monotonic() - self.queued_at >= HOLD_S):
            self.flush()

    def flush(self) -> None:
        if not self._outbox:
            return
        frames, self._outbox = self._outbox, []
        data = memoryview(frames[0] if len(frames) == 1 else b"".join(frames))
        while data:
            written = os.write(self._out, data)
            data = data[written:]

    # --- in -------------------------------------------------------------------------------

    def read(self, *, wait: bool) -> list[dict[str, Any]]:
        """Read what the pipe has. The fd is non-blocking: a sync call may already have taken
        the bytes the loop saw as readable, and the loop must then not block on an empty pipe.
        """
        while True:
            try:
                chunk = os.read(self.in_fd, 1 << 16)
            except BlockingIOError:
                if not wait:
                    return []
                self._poller.poll()
                continue
            if not chunk:
                os._exit(0)  # the host is gone; nobody to report to
            try:
                return [decode_payload(payload) for payload in self.decoder.feed(chunk)]
            except ProtocolError as error:
                # The host checks what it sends, so this is a host bug; a worker that stayed
                # up could never read past the frame, and would be stopped as a hung script.
                os.write(2, f"protocol error: the host sent a bad frame: {error}\n".encode())
                os._exit(PROTOCOL_EXIT_CODE)
