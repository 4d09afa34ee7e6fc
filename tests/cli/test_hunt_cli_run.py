"""``nai-script run`` refusals found by hunting: each is one line and the exit code SPEC
section 9 gives (2 usage, 3 rejected at compile time), never a misleading message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAI_")}
    return subprocess.run(
        [sys.executable, "-m", "nai_script", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "ok.py"
    path.write_text('api.v1.log("hello")\n', encoding="utf-8")
    return path


def test_timeout_nan_is_a_usage_error(tmp_path: Path) -> None:
    """nan passed the `<= 0` check and then ended every run as 'stopped by a limit' (4)."""
    done = _cli(
        "run", _script(tmp_path), "--timeout", "nan", "--data", tmp_path / "d", cwd=tmp_path
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "nai-script: error: --timeout must be greater than 0\n"


def test_a_folder_named_like_a_script_is_not_called_missing(tmp_path: Path) -> None:
    (tmp_path / "folder.py").mkdir()
    done = _cli("run", "folder.py", "--data", tmp_path / "d", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "nai-script: error: folder.py: is a folder, not a script file\n"


def test_data_that_is_a_file_is_a_one_line_usage_error(tmp_path: Path) -> None:
    """It was 'FileExistsError: [Errno 17] ...' with exit 1, as if the script had raised."""
    script = _script(tmp_path)
    done = _cli("run", script, "--data", script, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"nai-script: error: --data '{script}': cannot use it as a folder: "
        "it is a file, not a folder\n"
    )


def test_a_script_that_is_not_utf8_is_rejected_at_compile_time(tmp_path: Path) -> None:
    """``check`` rates an undecodable file as a policy problem (exit 3); ``run`` said the
    script raised (exit 1) although nothing ran. Now both say 3, ``run`` with the spot."""
    path = tmp_path / "latin.py"
    path.write_bytes(b'api.v1.log("ok")\nx = "caf\xe9"\n')
    done = _cli("run", path, "--data", tmp_path / "d", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        f"{path.resolve()}:2:9: cannot decode source: byte 0xe9 is not UTF-8"
        " (scripts are UTF-8 unless a coding line says otherwise)\n"
    )
    assert _cli("check", path, cwd=tmp_path).returncode == 3


def test_a_coding_line_is_honoured_by_run_as_by_check(tmp_path: Path) -> None:
    """``check`` honoured a PEP 263 coding line and said ok; ``run`` then refused the file
    as not UTF-8. Both (and the host) now read a script as Python reads a source file."""
    path = tmp_path / "latin.py"
    path.write_bytes(b'# -*- coding: latin-1 -*-\napi.v1.log("caf\xe9")\n')
    assert _cli("check", path, cwd=tmp_path).returncode == 0
    done = _cli("run", path, "--data", tmp_path / "d", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "caf\u00e9\n", "")
    bogus = tmp_path / "bogus.py"
    bogus.write_bytes(b"# coding: no-such-codec\npass\n")
    done = _cli("run", bogus, "--data", tmp_path / "d", cwd=tmp_path)
    assert done.returncode == 3
    assert done.stderr.startswith(f"{bogus.resolve()}:1:1: cannot decode source: ")


def test_a_utf8_script_with_a_bom_still_runs(tmp_path: Path) -> None:
    path = tmp_path / "bom.py"
    path.write_bytes(b'\xef\xbb\xbfapi.v1.log("h\xc3\xa9")\n')
    done = _cli("run", path, "--data", tmp_path / "d", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "h\u00e9\n", "")


def test_the_same_script_twice_is_a_usage_error(tmp_path: Path) -> None:
    """The host refused the second copy with 'already loaded (use reload_script)', exit 1."""
    _script(tmp_path)
    done = _cli("run", "ok.py", "./ok.py", "--data", tmp_path / "d", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "nai-script: error: ok.py: the same script is given more than once\n"


def test_diagnostics_still_print_when_a_script_is_not_utf8(tmp_path: Path) -> None:
    """``--diagnostics`` promises one JSON line at the end, as after a policy rejection."""
    path = tmp_path / "latin.py"
    path.write_bytes(b'x = "caf\xe9"\n')
    done = _cli("run", path, "--diagnostics", "--data", tmp_path / "d", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (3, '{"diagnostics": []}\n')


def test_a_damaged_database_under_data_names_the_folder(tmp_path: Path) -> None:
    """It was 'DatabaseError: file is not a database', naming neither file nor folder."""
    data = tmp_path / "d"
    data.mkdir()
    (data / "limits.sqlite3").write_text("not a database")
    done = _cli("run", _script(tmp_path), "--data", data, cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"nai-script: error: --data '{data}': a database there is damaged or not SQLite "
        "(file is not a database)\n"
    )


def test_a_file_name_that_is_not_utf8_is_one_usage_line(tmp_path: Path) -> None:
    """``run`` and ``check`` dumped a multi-line pydantic error (the default script name comes
    from the file name); with a header naming the script, ``check`` said ok and ``run`` then
    failed with a UnicodeEncodeError."""
    name = b"h\xff.py"
    (tmp_path / os.fsdecode(name)).write_text('"""\n---\nid: h\n---\n"""\napi.v1.log(1)\n')
    for argv in ([b"run", name, b"--data", b"d"], [b"check", name], [b"check", b"."]):
        done = subprocess.run(
            [sys.executable, "-m", "nai_script", *argv],
            capture_output=True,
            cwd=tmp_path,
            timeout=60,
        )
        assert (done.returncode, done.stdout) == (2, b""), argv
        assert done.stderr == (
            b"nai-script: error: h\\xff.py: the file name is not valid UTF-8; rename it\n"
        )


def test_a_rejected_script_is_exit_3_before_any_script_runs(tmp_path: Path) -> None:
    """The policy was checked script by script as each loaded: with a raising script first,
    the rejection of the second was never reported (exit 1); with a clean one first, that one
    ran (its log printed) before the rejection. Every script is now checked before any runs."""
    raising = tmp_path / "raises.py"
    raising.write_text('api.v1.log("ran")\nraise ValueError("boom")\n', encoding="utf-8")
    rejected = tmp_path / "rejected.py"
    rejected.write_text("import os\n", encoding="utf-8")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n    pass\n", encoding="utf-8")
    for first in (raising, _script(tmp_path)):
        done = _cli("run", first, rejected, broken, "--data", tmp_path / "d", cwd=tmp_path)
        assert (done.returncode, done.stdout) == (3, ""), done.stderr
        lines = done.stderr.splitlines()
        assert len(lines) == 2
        assert lines[0].startswith(f"{rejected.resolve()}:1:1: `import os` is not allowed")
        assert lines[1].startswith(f"{broken.resolve()}:1:7: syntax error")
