"""``WalSyncer``: fsyncs the limits file's WAL on a thread of its own, when asked.

A reserve commits without an fsync (``LimitsStore.commit_reserve``) and asks for one right
after, while its request is on the way. The ask is one byte on a pipe; the thread wakes from
a read that holds no GIL, fsyncs a descriptor it keeps open (the WAL exists while our
connections are open), and reads again: two GIL hand-overs per fsync, against the half dozen
of a thread-pool job (its queue, future and lock, an open and a close), each of which the
event loop may have to wait for while the thread holds the GIL. Asks made while an fsync
runs are served by one more fsync, which covers every commit before it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

log = logging.getLogger(__name__)

_SYNC = b"s"
_STOP = b"q"


class WalSyncer:
    def __init__(self, wal_path: Path) -> None:
        self._wal_path = wal_path
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="limits-wal-fsync", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Fsync the WAL soon: every commit made before this call is covered (any thread)."""
        os.write(self._wake_write, _SYNC)

    def close(self) -> None:
        """Serve the asks made so far, then stop the thread."""
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
                    fd = self._fsync(fd)
                if _STOP in asks or not asks:
                    return
        finally:
            if fd is not None:
                os.close(fd)

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
