"""Script storages (and the logs file) against real SQLite files: JSON values, scoping, the
4 MB cap, durability."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from nai_script.host.history_storage import history_storage
from nai_script.host.log_store import LogLine, LogStore
from nai_script.host.storage import (
    HISTORY_STORAGE_CAP,
    STORAGE_CAP,
    STORAGE_CAP_BYTES,
    STORY_STORAGE_CAP,
    TEMP_STORAGE_CAP_BYTES,
    Cap,
    Scope,
    ScriptStorage,
    StorageDB,
    StorageError,
)


@pytest.fixture
def db(tmp_path: Path) -> StorageDB:
    store = StorageDB(tmp_path / "storage.sqlite3")
    yield store
    store.close()


def test_round_trips_json_values(db: StorageDB) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    s.set("n", 1)
    s.set("obj", {"x": [1, 2, {"y": None}], "ü": "✓"})
    assert s.get("n") == 1
    assert s.get("obj") == {"x": [1, 2, {"y": None}], "ü": "✓"}
    assert s.get("missing") is None
    assert s.list() == ["n", "obj"]
    assert s.has("n")
    assert not s.has("missing")
    s.remove("n")
    assert not s.has("n")
    assert s.get_or_default("n", 7) == 7


def test_set_if_absent_reports_whether_it_wrote(db: StorageDB) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    assert s.set_if_absent("k", 1) is True
    assert s.set_if_absent("k", 2) is False
    assert s.get("k") == 1


def test_scripts_scopes_and_owners_do_not_see_each_other(db: StorageDB) -> None:
    a = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    b = ScriptStorage.persistent(db, Scope.SCRIPT, "b")
    story1 = ScriptStorage.persistent(db, Scope.STORY, "a", owner="story-1")
    story2 = ScriptStorage.persistent(db, Scope.STORY, "a", owner="story-2")
    a.set("k", "a")
    b.set("k", "b")
    story1.set("k", "s1")
    assert (a.get("k"), b.get("k"), story1.get("k"), story2.get("k")) == ("a", "b", "s1", None)


@pytest.mark.parametrize("bad", [float("nan"), {1, 2}, object()])
def test_non_json_values_are_refused_naming_the_key(db: StorageDB, bad: object) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    with pytest.raises(StorageError, match="'k' is not JSON"):
        s.set("k", bad)


@pytest.mark.parametrize("key", ["", 3, None])
def test_bad_keys_are_refused(db: StorageDB, key: object) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    with pytest.raises(StorageError, match="non-empty string"):
        s.set(key, 1)  # type: ignore[arg-type]
    calls = [
        lambda: s.get(key),  # type: ignore[arg-type]
        lambda: s.has(key),  # type: ignore[arg-type]
        lambda: s.remove(key),  # type: ignore[arg-type]
        lambda: s.get_or_default(key, 0),  # type: ignore[arg-type]
        lambda: s.set_if_absent(key, 1),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(StorageError, match="non-empty string"):
            call()


def test_cap_refuses_the_write_that_would_pass_it_and_keeps_the_old_value(db: StorageDB) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a", cap=STORAGE_CAP)
    big = "x" * (STORAGE_CAP_BYTES // 2)
    s.set("one", big)
    with pytest.raises(StorageError, match="over the 4 MB limit"):
        s.set("two", big)
    assert not s.has("two")
    # Replacing a value counts its new size, not old + new.
    s.set("one", big + "y")
    assert len(s.get("one")) == len(big) + 1
    # Another script has its own 4 MB.
    other = ScriptStorage.persistent(db, Scope.SCRIPT, "b", cap=STORAGE_CAP)
    other.set("two", big)


def test_cap_boundary_is_exact(db: StorageDB) -> None:
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a", cap=Cap("storage", 100))
    # key "k" (1 byte) + JSON string of 97 chars + 2 quotes = 100 bytes: fits exactly.
    s.set("k", "x" * 97)
    with pytest.raises(StorageError):
        s.set("k", "x" * 98)


def test_story_storage_is_capped_per_script_and_story(db: StorageDB) -> None:
    """storyStorage is the user's disk: capped (NovelAI documents no cap), each story apart."""
    cap = replace(STORY_STORAGE_CAP, limit=100)
    one = ScriptStorage.persistent(db, Scope.STORY, "a", "story-1", cap=cap)
    one.set("k", "x" * 97)  # 100 bytes: fits exactly
    with pytest.raises(
        StorageError,
        match=r"storyStorage is full: writing 'j' .* 102 bytes, over the 100-byte limit"
        " per script and story",
    ):
        one.set("j", 1)
    ScriptStorage.persistent(db, Scope.STORY, "a", "story-2", cap=cap).set("k", "y" * 97)
    ScriptStorage.persistent(db, Scope.STORY, "b", "story-1", cap=cap).set("k", "z" * 97)
    assert (STORY_STORAGE_CAP.limit, STORY_STORAGE_CAP.every_owner) == (32 * 1024 * 1024, False)


def test_history_storage_is_capped_over_every_node_and_can_always_shrink(
    db: StorageDB,
) -> None:
    """historyStorage keeps a value per history node: a cap per node would let a script
    write the cap again at every generation. It counts the script's rows on every node."""
    chain = ["root"]
    cap = replace(HISTORY_STORAGE_CAP, limit=100)
    store = history_storage(db, "a", lambda: list(chain), cap=cap)
    store.set("k", "x" * 47)  # 50 bytes on root
    chain.insert(0, "child")
    store.set("j", "y" * 47)  # 50 more on child: 100 in all, exactly the cap
    with pytest.raises(StorageError, match=r"historyStorage is full: .* over the 100-byte limit"):
        store.set("i", 1)
    chain.insert(0, "grandchild")
    with pytest.raises(StorageError, match="historyStorage is full"):
        store.set("i", 1)  # a new node has no room of its own
    store.remove("k")  # an inherited value: a tombstone, written even though the cap is full
    assert store.list() == ["j"]
    other = history_storage(db, "b", lambda: ["root"], cap=cap)
    other.set("k", "z" * 47)  # another script has its own
    assert HISTORY_STORAGE_CAP.every_owner
    assert HISTORY_STORAGE_CAP.limit == 256 * 1024 * 1024


def test_temp_storage_is_per_instance_and_in_memory() -> None:
    t = ScriptStorage.temporary()
    t.set("k", [1])
    assert t.get("k") == [1]
    assert ScriptStorage.temporary().get("k") is None


def test_temp_storage_is_capped_exactly_and_frees_what_it_drops() -> None:
    """tempStorage is the host's memory: uncapped, a script could fill it (16 MB per call, as
    many calls as it liked). Its cap counts like storage's: key and JSON value in bytes."""
    t = ScriptStorage.temporary(cap=Cap("tempStorage", 100))
    t.set("k", "x" * 97)  # 1 + 99 bytes: fits exactly
    with pytest.raises(
        StorageError, match=r"tempStorage is full: .* 102 bytes, over the 100-byte limit"
    ):
        t.set("j", 1)
    assert not t.has("j")
    t.set("k", "x" * 10)  # replacing counts the new size only
    t.set("j", "y" * 80)
    t.remove("k")
    t.set("i", "z" * 5)
    assert t.list() == ["i", "j"]
    assert TEMP_STORAGE_CAP_BYTES == 32 * 1024 * 1024
    with pytest.raises(StorageError, match="over the 32 MB limit"):
        ScriptStorage.temporary().set("big", "x" * TEMP_STORAGE_CAP_BYTES)


def test_acknowledged_writes_survive_a_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "storage.sqlite3"
    code = (
        "import os, signal\n"
        "from nai_script.host.storage import StorageDB, ScriptStorage, Scope\n"
        f"db = StorageDB({str(path)!r})\n"
        "s = ScriptStorage.persistent(db, Scope.SCRIPT, 'a')\n"
        "for i in range(50):\n"
        "    s.set(f'k{i}', i)\n"
        "print('written', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "written" in proc.stdout
    assert proc.returncode == -9
    db = StorageDB(path)
    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    assert [s.get(f"k{i}") for i in range(50)] == list(range(50))
    db.close()


async def test_run_keeps_the_event_loop_free_and_calls_in_order(db: StorageDB) -> None:
    import asyncio
    import threading

    s = ScriptStorage.persistent(db, Scope.SCRIPT, "a")
    loop_thread = threading.get_ident()
    seen_threads: set[int] = set()

    def set_then_report(i: int) -> int:
        seen_threads.add(threading.get_ident())
        s.set("k", i)
        return s.get("k")

    # Submitted together: each call sees its own write, so they ran one at a time, in order.
    results = await asyncio.gather(*(db.run(lambda i=i: set_then_report(i)) for i in range(50)))
    assert results == list(range(50))
    assert loop_thread not in seen_threads
    assert len(seen_threads) == 1


def test_the_logs_file_keeps_the_last_lines_and_the_last_errors(tmp_path: Path) -> None:
    """The diagnostics show a script's last ``keep`` lines and last ``keep`` errors; the file
    keeps exactly those (an old error outlives newer plain lines) and forgets the rest."""
    store = LogStore(tmp_path / "logs.sqlite3", keep=3)
    lines = [("error", "e0"), ("log", "a"), ("error", "e1"), ("log", "b"), ("log", "c")]
    lines += [("log", "d"), ("error", "e2"), ("log", "e"), ("error", "e3")]
    for at, (level, text) in enumerate(lines):
        assert store.append("s", LogLine(at=at, level=level, text=text))  # type: ignore[arg-type]
    store.append("other", LogLine(at=0, level="log", text="x"))
    store.close()

    reopened = LogStore(tmp_path / "logs.sqlite3", keep=3)
    recent, errors = reopened.recent("s")
    assert [line.text for line in recent] == ["e2", "e", "e3"]
    assert [line.text for line in errors] == ["e1", "e2", "e3"]
    assert [line.text for line in reopened.recent("other")[0]] == ["x"]
    with sqlite3.connect(tmp_path / "logs.sqlite3") as conn:
        kept = [
            row[0] for row in conn.execute("SELECT text FROM logs WHERE script_id='s' ORDER BY id")
        ]
    assert kept == ["e1", "e2", "e", "e3"]
    reopened.close()


def test_set_if_absent_has_one_winner_between_two_hosts_on_one_file(tmp_path: Path) -> None:
    """Two hosts on one data folder (two connections to the storage file) racing
    ``setIfAbsent`` on the same keys: it looked, then wrote, in two steps, so both saw the key
    absent and both were told they wrote it (300 of 300 keys here). Now one wins each key and
    the value kept is the winner's."""
    import threading

    dbs = [StorageDB(tmp_path / "storage.sqlite3") for _ in range(2)]
    wins: list[list[int]] = [[], []]
    barrier = threading.Barrier(2)

    def race(i: int) -> None:
        s = ScriptStorage.persistent(dbs[i], Scope.SCRIPT, "a")
        for k in range(300):
            barrier.wait()
            if s.set_if_absent(f"k{k}", i):
                wins[i].append(k)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins[0] + wins[1]) == list(range(300))
    s = ScriptStorage.persistent(dbs[0], Scope.SCRIPT, "a")
    assert all(s.get(f"k{k}") == (0 if k in wins[0] else 1) for k in range(300))
    for db in dbs:
        db.close()
