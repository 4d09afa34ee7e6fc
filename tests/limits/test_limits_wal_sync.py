"""``WalSyncer``: the WAL fsync a FULL reserve asks for, on a thread of its own."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nai_script.limits.wal_sync import WalSyncer


class Fsyncs:
    """Records every ``os.fsync`` (file, thread); ``gate`` cleared holds them back."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail_next = False
        self.lock = threading.Lock()

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Fsyncs:
    record = Fsyncs()
    real = os.fsync

    def fsync(fd: int) -> None:
        record.entered.set()
        record.gate.wait(10)
        if record.fail_next:
            record.fail_next = False
            raise OSError(5, "Input/output error")
        with record.lock:
            record.calls.append(
                (os.readlink(f"/proc/self/fd/{fd}"), threading.current_thread().name)
            )
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return record


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        done.wait(0.005)
    raise AssertionError("condition not reached in time")


def test_an_ask_fsyncs_the_wal_on_the_syncer_thread(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal)
    try:
        syncer.request()
        wait_for(lambda: fsyncs.count() == 1)
        assert fsyncs.calls == [(str(wal), "limits-wal-fsync")]
    finally:
        syncer.close()


def test_asks_made_during_an_fsync_are_served_by_one_more(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal)
    try:
        fsyncs.gate.clear()
        syncer.request()
        assert fsyncs.entered.wait(5)  # the first fsync is running (held)
        for _ in range(5):
            syncer.request()
        fsyncs.gate.set()
        wait_for(lambda: fsyncs.count() == 2)
    finally:
        syncer.close()
    assert fsyncs.count() == 2  # not six: one fsync covers every commit before it


def test_close_serves_the_asks_made_before_it(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal)
    fsyncs.gate.clear()
    syncer.request()
    assert fsyncs.entered.wait(5)
    syncer.request()  # arrives while the first runs
    threading.Timer(0.05, fsyncs.gate.set).start()
    syncer.close()
    assert fsyncs.count() == 2


def test_no_wal_yet_is_not_an_error_and_a_later_ask_syncs_it(
    tmp_path: Path, fsyncs: Fsyncs
) -> None:
    wal = tmp_path / "l.db-wal"
    syncer = WalSyncer(wal)
    try:
        syncer.request()  # nothing to open: the commits are in the database file
        wal.write_bytes(b"frames")
        syncer.request()
        wait_for(lambda: fsyncs.count() == 1)
    finally:
        syncer.close()


def test_a_failed_fsync_is_logged_and_the_next_ask_still_served(
    tmp_path: Path, fsyncs: Fsyncs, caplog: pytest.LogCaptureFixture
) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal)
    try:
        with caplog.at_level(logging.ERROR, logger="nai_script.limits.wal_sync"):
            fsyncs.fail_next = True
            syncer.request()
            wait_for(lambda: "fsync of" in caplog.text)
        syncer.request()
        wait_for(lambda: fsyncs.count() == 1)
    finally:
        syncer.close()
    assert "Input/output error" in caplog.text


def test_asks_made_within_the_gather_window_share_one_fsync(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal, gather_s=0.3)
    try:
        for _ in range(20):  # a burst of reserves, well inside the window
            syncer.request()
        wait_for(lambda: fsyncs.count() == 1)
        time.sleep(0.4)  # a second fsync would have come by now
        assert fsyncs.count() == 1
        syncer.request()  # after it: a fsync of its own
        wait_for(lambda: fsyncs.count() == 2)
    finally:
        syncer.close()


def test_an_ask_waits_for_the_window_before_it_fsyncs(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal, gather_s=0.3)
    try:
        asked = time.monotonic()
        syncer.request()
        wait_for(lambda: fsyncs.count() == 1)
        assert time.monotonic() - asked >= 0.29
    finally:
        syncer.close()


def test_close_cuts_the_gather_short_and_still_fsyncs(tmp_path: Path, fsyncs: Fsyncs) -> None:
    wal = tmp_path / "l.db-wal"
    wal.write_bytes(b"frames")
    syncer = WalSyncer(wal, gather_s=60)
    syncer.request()
    started = time.monotonic()
    syncer.close()
    assert time.monotonic() - started < 5
    assert fsyncs.count() == 1


def test_pipe_descriptors_above_1024_work(tmp_path: Path, fsyncs: Fsyncs) -> None:
    """A host with many workers holds more than 1024 descriptors; ``select`` cannot wait on
    those, so the syncer must not use it."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"cannot open 1200 descriptors (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    padding = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        wal = tmp_path / "l.db-wal"
        wal.write_bytes(b"frames")
        syncer = WalSyncer(wal, gather_s=0.01)
        try:
            syncer.request()
            wait_for(lambda: fsyncs.count() == 1)
            syncer.request()
            wait_for(lambda: fsyncs.count() == 2)
        finally:
            syncer.close()
    finally:
        for fd in padding:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
