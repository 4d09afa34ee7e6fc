"""Who owns an in-flight reservation, and whether that owner is still alive.

Recovery charges reservations left in flight in full, but only those of an owner that is gone:
another ``Limits`` on the same file (``nai-script run`` while ``serve`` runs on the same data
folder) has generations in flight too, and charging them in full would overcharge them. Each
store takes an owner id and holds an exclusive ``flock`` on its own lock file next to the
database for as long as it is open; the kernel drops it when the process dies, kill -9
included. ``flock`` locks belong to the open file, so two stores in one process exclude each
other as two processes do, and they never touch SQLite's own (``fcntl``) locks.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path

_SUFFIX = ".lock"


def owners_dir(db_path: Path) -> Path:
    """The folder of the lock files of ``db_path``'s owners."""
    return Path(f"{db_path}.owners")


class OwnerLock:
    """This store's owner id, held alive by an exclusive lock on its file until ``close``."""

    def __init__(self, db_path: Path) -> None:
        folder = owners_dir(db_path)
        folder.mkdir(exist_ok=True)
        self.id = uuid.uuid4().hex
        self._path = folder / f"{self.id}{_SUFFIX}"
        # Locked under another name first: a scan must never find the file unlocked (it would
        # take this owner for a dead one and remove its file).
        making = folder / f"{self.id}.new"
        self._fd: int | None = os.open(making, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(making, self._path)

    def close(self) -> None:
        if self._fd is None:
            return
        self._path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def live_owners(db_path: Path) -> set[str]:
    """The owners of ``db_path`` still alive; the lock files of the dead ones are removed.

    Call it holding the database's write lock, so no owner that starts meanwhile can have
    written an entry yet (it could not be told from a dead one).
    """
    live: set[str] = set()
    folder = owners_dir(db_path)
    if not folder.is_dir():
        return live
    for path in folder.glob(f"*{_SUFFIX}"):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:  # closed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            live.add(path.name.removesuffix(_SUFFIX))
        else:
            path.unlink(missing_ok=True)  # its owner is gone: nothing will ever lock it
        finally:
            os.close(fd)
    return live
