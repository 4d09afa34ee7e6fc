"""Folders the CLI cannot write: ``--data`` (``run``, ``serve``) and ``--out`` (``image``).

An unwritable ``--data`` was reported as "a database there is damaged or not SQLite", which
sends the user to the wrong fix; an unwritable ``--out`` failed with "PermissionError: ..."
only after the images were generated (the Anlas spent, the pictures lost). Each is now
one line naming the flag and the path, exit 2, and ``image`` refuses before generating.

File modes do not stop root (CI runs the tests as root): there the CLI runs with
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its capability bounding set, so the
modes of the files root owns apply to it as to any owner (skipped where that is not allowed).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nai_script.cli import image_cmd
from nai_script.cli.common import damaged_data
from nai_script.cli.main import main

_PR_CAPBSET_DROP = 24  # <linux/prctl.h>
_CAP_DAC_OVERRIDE = 1  # <linux/capability.h>
_CAP_DAC_READ_SEARCH = 2


def _drop_file_mode_override() -> None:
    """In the child before exec: root keeps its uid but loses the right to ignore modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))


@functools.cache
def _mode_respecting() -> Callable[[], None] | None:
    """The ``preexec_fn`` that makes file modes bind the CLI, or skip the test."""
    if os.geteuid() != 0:
        return None
    with tempfile.TemporaryDirectory() as folder:
        locked = Path(folder, "locked")
        locked.mkdir(mode=0o555)
        try:
            probe = subprocess.run(
                [sys.executable, "-c", f"open({str(locked / 'x')!r}, 'w')"],
                preexec_fn=_drop_file_mode_override,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE: {exc}")
        finally:
            locked.chmod(0o755)
    if probe.returncode == 0:
        pytest.skip("running as root and file modes still do not bind the CLI")
    return _drop_file_mode_override


def _cli(*args: str | Path, cwd: Path, modes_bind: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        preexec_fn=_mode_respecting() if modes_bind else None,
    )


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "ok.py"
    path.write_text('api.v1.log("hello")\n', encoding="utf-8")
    return path


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], Path]]:
    """``read_only(path)``: make a folder or file read-only; modes are restored afterwards
    (pytest could not remove a tree holding a 0o555 folder)."""
    changed: list[tuple[Path, int]] = []

    def make(path: Path) -> Path:
        changed.append((path, path.stat().st_mode))
        path.chmod(0o555 if path.is_dir() else 0o444)
        return path

    yield make
    for path, mode in reversed(changed):
        path.chmod(mode)


def test_run_with_a_read_only_data_folder_says_it_is_not_writable(
    tmp_path: Path, read_only: Callable[[Path], Path]
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    read_only(data)
    done = _cli("run", _script(tmp_path), "--data", data, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"nai-script: error: --data '{data}': the folder is not writable (Permission denied); "
        "make it writable or choose another --data folder\n"
    )


def test_serve_with_a_read_only_data_folder_says_it_is_not_writable(
    tmp_path: Path, read_only: Callable[[Path], Path]
) -> None:
    data = tmp_path / "d"
    data.mkdir()
    read_only(data)
    done = _cli(
        "serve", "--scripts", tmp_path, "--data", data, "--port", "0", "--no-browser", cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"nai-script: error: --data '{data}': the folder is not writable (Permission denied); "
        "make it writable or choose another --data folder\n"
    )


@pytest.mark.parametrize("name", ["limits.sqlite3", "storage.sqlite3-wal"])
def test_a_read_only_database_under_data_is_named(
    name: str, tmp_path: Path, read_only: Callable[[Path], Path]
) -> None:
    """The folder is writable, a database file in it is not: SQLite said 'attempt to write
    a readonly database', which the CLI reported as damaged."""
    data = tmp_path / "d"
    data.mkdir()
    database = data / name
    if name.endswith(".sqlite3"):
        sqlite3.connect(database).close()  # a valid (empty) SQLite database
    else:
        database.write_bytes(b"")
    read_only(database)
    done = _cli("run", _script(tmp_path), "--data", data, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"nai-script: error: --data '{data}': '{database}' is not writable (Permission "
        "denied); make it writable or choose another --data folder\n"
    )


def test_image_out_that_is_not_writable_is_refused_before_generating(
    tmp_path: Path, read_only: Callable[[Path], Path]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    read_only(out)
    done = _cli("image", "--prompt", "a lighthouse", "--size", "64x64", "--out", out, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    # One line and nothing else: no "generating ..." progress, so nothing was spent.
    assert done.stderr == (
        f"nai-script: error: --out '{out}': the folder is not writable (Permission denied); "
        "make it writable or choose another --out folder\n"
    )
    assert list(out.iterdir()) == []


def test_image_write_failing_after_generation_names_the_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The folder was usable when checked, then is gone (a file in its place) once the images
    arrive: one line naming the file that could not be written, not a traceback."""
    for name in ("NAI_SCRIPT_BACKEND", "NAI_SCRIPT_BASE_URL", "NAI_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    out = tmp_path / "out"
    generate = image_cmd.run_async

    def generate_then_lose_the_folder(coro: Any) -> int:
        code = generate(coro)
        out.rmdir()
        out.write_text("not a folder any more")
        return code

    monkeypatch.setattr(image_cmd, "run_async", generate_then_lose_the_folder)
    argv = ["image", "--prompt", "a lighthouse", "--size", "64x64", "--samples", "2"]
    code = main([*argv, "--seed", "7", "--out", str(out)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[-1] == (
        f"nai-script: error: --out '{out}': cannot write '{out / '7_0.png'}' (Not a directory); "
        "2 generated image(s) were not saved"
    )
    assert "Traceback" not in err


def test_checking_out_leaves_nothing_behind(tmp_path: Path) -> None:
    """The writability check writes nothing that stays: the folder holds only the pictures."""
    out = tmp_path / "out"
    out.mkdir()
    done = _cli(
        "image",
        "--prompt",
        "p",
        "--size",
        "64x64",
        "--seed",
        "3",
        "--out",
        out,
        cwd=tmp_path,
        modes_bind=False,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in out.iterdir()] == ["3_0.png"]


def test_sqlite_refusing_to_write_is_not_called_damaged(tmp_path: Path) -> None:
    """A write refusal that the checks before the run did not see (the folder changed in
    between, say) is still not reported as a damaged file."""
    database = tmp_path / "limits.sqlite3"
    sqlite3.connect(database).close()
    read_only_connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as refused:
        read_only_connection.execute("CREATE TABLE t (x)")
    read_only_connection.close()
    error = damaged_data(tmp_path, refused.value)
    assert error.exit_code == 2
    assert error.message == (
        f"--data '{tmp_path}': a database there cannot be opened for writing (attempt to "
        "write a readonly database); make the folder and its files writable or choose "
        "another --data folder"
    )


def test_a_picture_cut_short_by_a_full_disk_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write failing midway (ENOSPC) must leave no truncated PNG, and the error names the
    file; an existing picture of the same seed is not touched."""
    from nai_script.cli import image_cmd

    (tmp_path / "7_0.png").write_bytes(b"earlier")
    opened = Path.open

    class Full:
        """The real file, whose write stops halfway, as on a full disk."""

        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[:4])
            self.handle.flush()
            raise OSError(errno.ENOSPC, "No space left on device")

    def open_full(path: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = opened(path, mode, *args, **kwargs)
        return Full(handle) if mode == "xb" else handle

    monkeypatch.setattr(Path, "open", open_full)
    with pytest.raises(OSError) as raised:
        image_cmd._write_new(tmp_path, "7_0", b"\x89PNG...")
    assert raised.value.filename == str(tmp_path / "7_0-2.png")
    assert raised.value.strerror == "No space left on device"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["7_0.png"]
    assert (tmp_path / "7_0.png").read_bytes() == b"earlier"
