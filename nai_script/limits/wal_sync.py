"""``WalSyncer``: fsyncs the limits file's WAL on a thread of its own, when asked.

A reserve commits without an fsync (``LimitsStore.commit_reserve``) and asks for one right
after, while its request is on the way. The ask is one byte on a pipe; the thread wakes from
a read that holds no GIL, fsyncs a descriptor it keeps open (the WAL exists while our
connections are open), and reads again: two GIL hand-overs per fsync, against the half dozen
of a thread-pool job (its queue, future and lock, an open and a close), each of which the
event loop may have to wait for while the thread holds the GIL.

Group commit: after the first ask the thread waits ``gather_s`` (or until ``close``) before
it fsyncs, and every ask made by then is served by that one fsync, which covers every commit
before it; asks made during an fsync are served by one more. Reserves made in a burst (many
generations a second, many scripts) then share a disk flush instead of paying one each, and
a reserve reaches the disk at most ``gather_s`` plus one fsync after it committed (a process
kill loses nothing either way: the WAL is in the OS's cache once committed).
"""

from __future__ import annotations

import logging
import os
import select
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_SYNC = b"s"
_STOP = b"q"

#: How long the first ask waits for others to join its fsync (see the module doc).
GATHER_S = 0.05


class WalSyncer:
    def __init__(self, wal_path: Path, gather_s: float = GATHER_S) -> None:
        self._wal_path = wal_path
        self._gather_s = gather_s
        self._wake_read, self._wake_write = os.pipe()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="limits-wal-fsync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Fsync the WAL soon: every commit made before this call is covered (any thread)."""
        os.write(self._wake_write, _SYNC)

    def close(self) -> None:
        """Serve the asks made so far at once, then stop the thread."""
        self._stopping.set()
        os.write(self._wake_write, _STOP)
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        fd: int | None = None
        try:
            while True:
                asks = os.read(self._wake_read, 4096)
                if _SYNC in asks:
                    self._stopping.wait(self._gather_s)  # others join; ``close`` cuts it short
                    asks += self._read_ready()
                    fd = self._fsync(fd)
                if _STOP in asks or not asks:
                    return
        finally:
            if fd is not None:
                os.close(fd)

    def _read_ready(self) -> bytes:
        """The asks already on the pipe, without waiting for more (``poll``, not ``select``,
        whose descriptors must be below 1024: a host with many workers has more)."""
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        asks = b""
        while poller.poll(0):
            chunk = os.read(self._wake_read, 4096)
            asks += chunk
            if not chunk:
                break
        return asks

    def _fsync(self, fd: int | None) -> int | None:
        try:
            if fd is None:
                fd = os.open(self._wal_path, os.O_RDONLY)
            os.fsync(fd)
        except FileNotFoundError:  # no WAL (yet): the commits are in the database file
            return None
        except OSError as error:
            log.error("limits: fsync of %s failed: %r", self._wal_path, error)
        return fd
