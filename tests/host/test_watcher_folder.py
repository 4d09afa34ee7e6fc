"""The script folder's rules (which names are scripts, the order) and the pure debouncer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nai_script.host.folder import (
    content_digest,
    is_script_in,
    is_script_name,
    list_scripts,
    read_script_bytes,
)
from nai_script.host.watcher import Debouncer

EDITOR_TEMP_NAMES = [
    ".#x.py",  # Emacs lock
    "#x.py#",  # Emacs autosave
    "x.py~",  # backups
    ".x.py.swp",  # vim swap
    ".x.py.swx",
    "x.py.tmp",
    "4913",  # vim's write probe
    "x.py___jb_tmp___",  # JetBrains safe write
    "x.py___jb_old___",
    "___jb_tmp___x.py",
    ".goutputstream-ABC123",  # GNOME
    ".goutputstream-x.py",
    ".hidden.py",
    "flycheck_x.py",
    "x_flymake.py",
    ".py",
    "x.pyc",
    "x.PY.bak",
    "notes.txt",
]


@pytest.mark.parametrize("name", EDITOR_TEMP_NAMES)
def test_editor_temp_and_hidden_files_are_not_scripts(name: str) -> None:
    assert not is_script_name(name)


@pytest.mark.parametrize("name", ["x.py", "chat_bot.py", "My Script.py", "a.b.py", "4913.py"])
def test_plain_python_files_are_scripts(name: str) -> None:
    assert is_script_name(name)


def test_only_direct_children_count(tmp_path: Path) -> None:
    assert is_script_in(tmp_path / "a.py", tmp_path)
    assert not is_script_in(tmp_path / "sub" / "a.py", tmp_path)
    assert not is_script_in(tmp_path / ".#a.py", tmp_path)


def test_list_scripts_is_sorted_by_name_without_temp_files_or_subfolders(tmp_path: Path) -> None:
    for name in ["b.py", "a.py", "C.py", "c.py", *EDITOR_TEMP_NAMES]:
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.py").write_text("x = 1\n")
    (tmp_path / "dir.py").mkdir()  # a folder named like a script is not one
    assert [p.name for p in list_scripts(tmp_path)] == ["C.py", "a.py", "b.py", "c.py"]


def test_list_scripts_names_a_missing_or_wrong_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        list_scripts(tmp_path / "nope")
    (tmp_path / "file.py").write_text("")
    with pytest.raises(NotADirectoryError, match=r"file\.py"):
        list_scripts(tmp_path / "file.py")


def test_digest_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    assert content_digest(b"x = 1\n") == content_digest(b"x = 1\n")
    assert content_digest(b"x = 1\n") != content_digest(b"x = 2\n")
    assert len(content_digest(b"")) == 32
    assert read_script_bytes(tmp_path / "missing.py") is None
    assert read_script_bytes(tmp_path) is None  # a directory is not a script
    (tmp_path / "a.py").write_bytes(b"abc")
    assert read_script_bytes(tmp_path / "a.py") == b"abc"


# The debouncer, with times passed in (an injected clock in seconds).


def test_debouncer_waits_for_the_quiet_period_after_the_last_touch() -> None:
    debounce = Debouncer(quiet=0.1, max_wait=2.0)
    a = Path("/s/a.py")
    assert debounce.next_deadline() is None
    debounce.touch(a, 10.0)
    debounce.touch(a, 10.05)  # a second event moves the deadline
    assert debounce.next_deadline() == pytest.approx(10.15)
    assert debounce.pop_due(10.149) == []
    assert debounce.pop_due(10.15) == [a]
    assert len(debounce) == 0
    assert debounce.pop_due(99.0) == []  # forgotten once returned


def test_ten_touches_in_a_second_fire_once_after_the_last() -> None:
    debounce = Debouncer(quiet=0.15, max_wait=2.0)
    a = Path("/s/a.py")
    fired: list[float] = []
    for step in range(10):
        now = 10.0 + step * 0.1
        debounce.touch(a, now)
        fired += [now] * len(debounce.pop_due(now + 0.099))
    assert fired == []
    assert debounce.pop_due(10.9 + 0.15) == [a]


def test_a_file_that_never_goes_quiet_is_still_due_after_max_wait() -> None:
    debounce = Debouncer(quiet=2, max_wait=10)  # whole seconds: no float drift
    a = Path("/s/a.py")
    now = 0
    due: list[Path] = []
    while not due:
        debounce.touch(a, now)
        now += 1
        due = debounce.pop_due(now)
    assert now == 10
    debounce.touch(a, now)  # the next burst starts a new window
    assert debounce.next_deadline() == 12


def test_due_files_come_in_name_order_and_others_stay() -> None:
    debounce = Debouncer(quiet=0.1, max_wait=1.0)
    names = ["c.py", "a.py", "b.py"]
    for name in names:
        debounce.touch(Path("/s") / name, 0.0)
    debounce.touch(Path("/s/z.py"), 0.5)
    assert [p.name for p in debounce.pop_due(0.2)] == ["a.py", "b.py", "c.py"]
    assert len(debounce) == 1
    assert debounce.next_deadline() == pytest.approx(0.6)


def test_debouncer_rejects_bad_windows() -> None:
    with pytest.raises(ValueError, match="quiet"):
        Debouncer(quiet=-1, max_wait=1)
    with pytest.raises(ValueError, match="max_wait"):
        Debouncer(quiet=1, max_wait=0.5)


def test_a_name_that_is_not_utf8_is_not_a_script(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xff.py")  # how Python hands such a name over: a lone surrogate
    assert not is_script_name(name)
    assert is_script_name("caf\u00e9.py")
    (tmp_path / name).write_text("pass\n")
    (tmp_path / "good.py").write_text("pass\n")
    assert [p.name for p in list_scripts(tmp_path)] == ["good.py"]
