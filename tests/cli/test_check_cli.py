"""``nai-script check``: problem lines with positions, ok lines, JSON, and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nai_script.cli.main import main

CLEAN = 'api.v1.log("hello")\n'
BAD_IMPORT_AND_NAME = "import os\nx = _secret\n"
BAD_HEADER = '"""\n---\nname: Demo\nbogus: 1\n---\n"""\napi.v1.log(1)\n'


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_a_clean_script_prints_ok_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "good.py", CLEAN)
    assert run(["check", path], capsys) == (0, f"{path}: ok\n", "")


def test_every_problem_is_listed_with_line_and_column_and_exits_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.py", BAD_IMPORT_AND_NAME)
    code, out, err = run(["check", path], capsys)
    assert code == 3
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:1:1: `import os` is not allowed (allowed modules: ")
    assert lines[1].startswith(f"{path}:2:5: names starting with `_` are not allowed")
    assert lines[1].endswith(")")  # the hint, in parentheses


def test_header_problems_are_reported_on_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "hdr.py", BAD_HEADER)
    code, out, _ = run(["check", path], capsys)
    assert code == 3
    assert out == f"{path}:4:1: unknown header key 'bogus'\n"


def test_a_permission_the_host_does_not_know_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "perm.py", '"""\n---\npermissions: [storyEdit, rootAccess]\n---\n"""\n')
    code, out, _ = run(["check", path], capsys)
    assert code == 3
    assert out.startswith(f"{path}:3:1: header key 'permissions': ")
    assert "unknown permission 'rootAccess'; known: " in out


def test_syntax_errors_are_problems_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "syntax.py", "x = (1,\n")
    code, out, err = run(["check", path], capsys)
    assert code == 3
    assert out.startswith(f"{path}:1:")
    assert "syntax error" in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"x = 1\ny = 2 # \xe9\n", "2:9: cannot decode source: byte 0xe9"),
        (b"x = 1\ny = 2\nz = '\xe9'\n", "3:6: cannot decode source: byte 0xe9"),
    ],
)
def test_undecodable_source_is_a_problem_at_its_first_bad_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, where: str
) -> None:
    """As ``run`` reports it (before, ``check`` put every such problem at 1:1)."""
    path = tmp_path / "latin.py"
    path.write_bytes(data)
    code, out, _ = run(["check", str(path)], capsys)
    assert code == 3
    assert out.startswith(f"{path}:{where} is not UTF-8")


def test_a_coding_cookie_and_bom_are_honoured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n")
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfx = 1\n")
    code, out, _ = run(["check", str(latin), str(bom)], capsys)
    assert (code, out) == (0, f"{latin}: ok\n{bom}: ok\n")


def test_many_files_mixed_exit_3_and_keep_the_given_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.py", CLEAN)
    bad = write(tmp_path, "bad.py", BAD_IMPORT_AND_NAME)
    code, out, _ = run(["check", good, bad, good], capsys)
    assert code == 3
    lines = out.splitlines()
    assert lines[0] == f"{good}: ok"
    assert lines[1].startswith(f"{bad}:1:1:")
    assert lines[3] == f"{good}: ok"


def test_a_folder_checks_its_scripts_in_name_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, "b.py", CLEAN)
    write(tmp_path, "a.py", CLEAN)
    write(tmp_path, ".#a.py", BAD_IMPORT_AND_NAME)  # an editor lock file: not a script
    code, out, _ = run(["check", str(tmp_path)], capsys)
    assert (code, out) == (0, f"{tmp_path / 'a.py'}: ok\n{tmp_path / 'b.py'}: ok\n")


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.py", "no such file"), ("notes.txt", "not a .py script")],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    good = write(tmp_path, "good.py", CLEAN)
    target = str(tmp_path / name)
    code, out, err = run(["check", good, target], capsys)
    assert code == 2
    assert out == ""  # nothing is checked when the arguments are wrong
    assert err == f"nai-script: error: {target}: {message}\n"


def test_an_empty_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["check", str(tmp_path)], capsys)
    assert code == 2
    assert "no *.py scripts" in err


def test_no_arguments_is_argparse_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, "good.py", CLEAN)
    bad = write(tmp_path, "bad.py", BAD_IMPORT_AND_NAME)
    code, out, _ = run(["check", "--json", good, bad], capsys)
    assert code == 3
    report = json.loads(out)
    assert report["ok"] is False
    assert [f["file"] for f in report["files"]] == [good, bad]
    assert report["files"][0] == {"file": good, "ok": True, "problems": []}
    first = report["files"][1]["problems"][0]
    assert (first["line"], first["column"], first["filename"]) == (1, 1, bad)
    assert first["message"] == "`import os` is not allowed"
    assert first["hint"].startswith("allowed modules:")
    code, out, _ = run(["check", "--json", good], capsys)
    assert code == 0
    assert json.loads(out)["ok"] is True


def test_the_installed_entry_point_runs_check(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.py", BAD_IMPORT_AND_NAME)
    result = subprocess.run(
        [sys.executable, "-m", "nai_script", "check", bad],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert result.stdout.startswith(f"{bad}:1:1:")
    assert result.stderr == ""
