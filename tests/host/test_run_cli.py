"""``nai-script run`` as a subprocess: output streams, exit codes 0/1/2/3/4, stdin events."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from host_helpers import hosted

RUN = [sys.executable, "-m", "nai_script", "run"]


def invoke(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``nai-script run`` with these arguments, to completion."""
    return subprocess.run(
        [*RUN, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run(
    tmp_path: Path, source: str, *extra: str, stdin: str = "", name: str = "s.py"
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / name
    script.write_text(source)
    return invoke(script, "--data", tmp_path / "data", *extra, stdin=stdin)


def test_ok_logs_to_stdout_errors_to_stderr(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        "api.v1.log('out line')\napi.v1.error('err line')\n"
        "r = await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 5})\n"
        "api.v1.log(len(r.choices[0].token_ids))\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["out line", "5"]
    assert "err line" in done.stderr


def test_script_raising_exits_1_with_its_line(tmp_path: Path) -> None:
    done = run(tmp_path, "x = 1\nraise ValueError('nope')\n")
    assert done.returncode == 1
    assert "s.py:2" in done.stderr
    assert "nope" in done.stderr


def test_callback_raising_later_exits_1(tmp_path: Path) -> None:
    done = run(
        tmp_path, "def f():\n    raise KeyError('late')\nawait api.v1.timers.setTimeout(f, 10)\n"
    )
    assert done.returncode == 1
    assert "late" in done.stderr


def test_hook_raising_exits_1(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        "def loaded():\n    raise KeyError('in hook')\n"
        "api.v1.hooks.register('onScriptsLoaded', loaded)\n",
    )
    assert done.returncode == 1
    assert "hook onScriptsLoaded raised: " in done.stderr
    assert "s.py:2" in done.stderr


def test_message_handler_raising_exits_1(tmp_path: Path) -> None:
    receiver, sender = tmp_path / "receiver.py", tmp_path / "sender.py"
    receiver.write_text(
        '"""\n---\nid: receiver\nname: Receiver\n---\n"""\n'
        "def handler(message):\n    raise KeyError('in handler')\n"
        "await api.v1.messaging.onMessage(handler)\n"
    )
    sender.write_text(
        '"""\n---\nid: sender\nname: Sender\n---\n"""\nawait api.v1.messaging.broadcast(1)\n'
    )
    done = invoke(receiver, sender, "--data", tmp_path / "data")
    assert done.returncode == 1
    assert "[receiver] message handler raised: " in done.stderr


def test_unawaited_failed_call_is_reported_but_not_a_raise(tmp_path: Path) -> None:
    """The failure never reached the script's code (it did not await the call): stderr says
    so, and the exit code stays 0."""
    done = run(tmp_path, "api.v1.messaging.send('nobody', 1)\napi.v1.log('after')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["after"]
    assert "v1.messaging.send failed (not awaited): " in done.stderr


def test_reader_closing_stdout_stops_output_quietly(tmp_path: Path) -> None:
    """``nai-script run s.py | head -1``: the closed pipe is never the script's failure."""
    script = tmp_path / "s.py"
    # Lines after the reader has gone (the pause), and no more than the log burst, so no line
    # is dropped for rate.
    script.write_text(
        "for i in range(100):\n    api.v1.log('line', i, 'x' * 100)\n"
        "await api.v1.timers.sleep(500)\n"
        "for i in range(100, 190):\n    api.v1.log('line', i, 'x' * 100)\n"
        "api.v1.error('finished')\n"
    )
    with subprocess.Popen(
        [*RUN, str(script), "--data", str(tmp_path / "data"), "--diagnostics"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert proc.stdout.readline().startswith("line 0 ")
        proc.stdout.close()
        stderr = proc.stderr.read()
        assert proc.wait(timeout=60) == 0, stderr
    assert stderr.strip() == "finished"


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--backend", "openai"]])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = run(tmp_path, "pass\n", *args)
    assert done.returncode == 2
    assert "error" in done.stderr


def test_missing_file_and_wrong_suffix_exit_2(tmp_path: Path) -> None:
    missing = invoke(tmp_path / "nope.py")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    assert run(tmp_path, "pass\n", name="s.txt").returncode == 2


def test_policy_rejection_exits_3_with_file_line_col(tmp_path: Path) -> None:
    done = run(tmp_path, "a = 1\nimport os\nb = a._secret\n")
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    assert any(line.startswith(f"{tmp_path / 's.py'}:2:") for line in lines), done.stderr
    assert any(":3:" in line for line in lines)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("x = 'a' * (2 ** 31)\n", "memory"),
        ("x = 0\nwhile True:\n    x += 1\n", "stopped (cpu)"),  # 5 s of CPU
    ],
    ids=["memory", "cpu"],
)
def test_resource_limit_exits_4(tmp_path: Path, source: str, reason: str) -> None:
    done = run(tmp_path, source)
    assert done.returncode == 4, done.stderr
    # One clear line (SPEC 9): the load's error, not also the host's report of the exit.
    assert reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_timeout_with_pending_work_exits_4_naming_the_script(tmp_path: Path) -> None:
    done = run(tmp_path, "await api.v1.timers.setTimeout(lambda: None, 60000)\n", "--timeout", "1")
    assert done.returncode == 4
    assert "--timeout 1 s with work still pending in s.py (pending work)" in done.stderr


def test_timeout_in_a_top_level_names_the_script_still_loading(tmp_path: Path) -> None:
    done = run(tmp_path, "await api.v1.timers.sleep(60000)\n", "--timeout", "1", name="slow.py")
    assert done.returncode == 4
    assert "pending in slow.py (top level still running)" in done.stderr


def test_stdin_interaction_and_diagnostics(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        '"""\n---\nid: diag\nname: Diag\n---\n"""\n'
        "await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 7})\n"
        "await api.v1.timers.sleep(400)\n",
        "--diagnostics",
        stdin="interact\nmanual\n",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])["diagnostics"][0]
    assert report["script_id"] == "diag"
    assert report["limits"]["output"]["available"] == 2048 - 7
    assert report["limits"]["last_interaction_at"] is not None
    assert report["limits"]["last_manual_generation_at"] is not None
    again = run(tmp_path, "api.v1.log(api.v1.script.getAllowedOutput())\n", name="s.py")
    assert again.returncode == 0


@pytest.mark.parametrize(
    ("tail", "extra", "code"),
    [
        ("raise ValueError('late')\n", (), 1),
        ("await api.v1.timers.sleep(60000)\n", ("--timeout", "1"), 4),
    ],
    ids=["raised", "timed-out"],
)
def test_diagnostics_report_a_top_level_that_did_not_finish(
    tmp_path: Path, tail: str, extra: tuple[str, ...], code: int
) -> None:
    """Its spend is reported too; the report was empty, though the bucket held the tokens."""
    done = run(
        tmp_path,
        '"""\n---\nid: spent\n---\n"""\n'
        "await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 9})\n" + tail,
        "--diagnostics",
        *extra,
    )
    assert done.returncode == code, done.stderr
    (report,) = json.loads(done.stdout.splitlines()[-1])["diagnostics"]
    assert report["script_id"] == "spent"
    assert report["limits"]["output"]["available"] == 2048 - 9
    assert report["worker"]["alive"] is False


def test_a_new_run_refills_nothing_until_an_interaction(tmp_path: Path) -> None:
    """SPEC section 5: entries return after their window *and* a user interaction. Starting a
    run is not one (a scheduled run is unattended); ``interact`` on stdin is."""
    header = '"""\n---\nid: again\nname: Again\n---\n"""\n'
    source = header + (
        "api.v1.log(api.v1.script.getAllowedOutput())\n"
        "await api.v1.generate([{'role': 'user', 'content': 'Hi'}],"
        " {'model': 'glm-4-6', 'max_tokens': 7})\n"
    )
    first = run(tmp_path, source)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["2048"]
    # Let the spend's window pass (move it 300 s into the past in the real file).
    with sqlite3.connect(tmp_path / "data" / "limits.sqlite3") as conn:
        conn.execute("UPDATE held_entries SET spent_at = spent_at - 300")
    second = run(tmp_path, source)  # window passed, but no interaction since the spend
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == ["2041"]
    with sqlite3.connect(tmp_path / "data" / "limits.sqlite3") as conn:
        conn.execute("UPDATE held_entries SET spent_at = spent_at - 300")
    third = run(
        tmp_path,
        # The same script (same id), reading its budget once the stdin line has landed.
        source.replace(header, header + "await api.v1.timers.sleep(300)\n"),
        stdin="interact\n",
    )
    assert third.returncode == 0, third.stderr
    assert third.stdout.splitlines() == ["2048"]


def test_dates_format_and_parse_in_a_worker(tmp_path: Path) -> None:
    """``datetime``'s C code imports ``time`` and ``_strptime`` through the script's guarded
    import; in the worker (after its rlimits) both work, and ``import time`` stays refused."""
    done = run(
        tmp_path,
        "import datetime\n"
        "api.v1.log(datetime.datetime(2024, 5, 6).strftime('%A %d %B %Y'))\n"
        "api.v1.log(datetime.datetime.strptime('2024-05-06', '%Y-%m-%d').isoformat())\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Monday 06 May 2024", "2024-05-06T00:00:00"]


async def test_log_lines_survive_a_kill_9_and_show_in_the_next_load(tmp_path: Path) -> None:
    """SPEC 10: the data folder's SQLite holds the logs, and a kill -9 loses nothing that was
    acknowledged. The recent lines lived only in the host's memory: a restart (or a crash)
    showed an empty log in the diagnostics. Every line ``run`` printed (each printed after
    its commit) is in the next load's diagnostics, errors among the errors."""
    script = tmp_path / "s.py"
    script.write_text(
        '"""\n---\nid: chatty\n---\n"""\n'
        "i = 0\n"
        "while True:\n"
        "    api.v1.log(f'line {i}')\n"
        "    if i % 5 == 0:\n"
        "        api.v1.error(f'oops {i}')\n"
        "    i += 1\n"
        "    await api.v1.timers.sleep(15)\n"
    )
    proc = subprocess.Popen(
        [*RUN, str(script), "--data", str(tmp_path / "data"), "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    printed = []
    for line in proc.stdout:
        printed.append(line.rstrip("\n"))
        if len(printed) == 30:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert printed == [f"line {i}" for i in range(30)]

    async with hosted(tmp_path) as env:  # the same data folder: tmp_path / "data"
        reloaded = await env.load('"""\n---\nid: chatty\n---\n"""\n', "again.py")
        diagnostics = env.host.diagnostics(reloaded.id)
        texts = [line.text for line in diagnostics.recent_logs if line.level == "log"]
        assert texts[: len(printed)] == printed  # and perhaps lines logged after the last read
        errors = [line.text for line in diagnostics.recent_errors]
        assert {f"oops {i}" for i in range(0, 30, 5)} <= set(errors)
        assert all(line.level == "error" for line in diagnostics.recent_errors)
