"""Script headers: front matter in the module docstring, parsed into ScriptHeader."""

from __future__ import annotations

import pytest

from sandbox.compiler import check_script, compile_script
from sandbox.errors import PolicyError
from sandbox.header import HeaderError, parse_header, script_id_from_filename

FULL = '''"""
---
id: word-counter
name: Word Counter
version: 1.2.0
author: Ada
description: Counts words.
memoryLimit: 64
config:
  - name: target
    prettyName: Target words
    description: How many words to aim for
    type: number
    default: 500
  - name: mode
    type: select
    default: fast
    options: [fast, slow]
permissions:
  - documentEdit
  - storyEdit
---
Free text after the block documents the script.
"""
import json
'''


def test_full_header_is_parsed() -> None:
    header = parse_header(FULL, "scripts/counter.py")
    assert header.id == "word-counter"
    assert header.name == "Word Counter"
    assert header.version == "1.2.0"
    assert header.author == "Ada"
    assert header.memoryLimit == 64
    assert [option.name for option in header.config] == ["target", "mode"]
    assert header.config[0].type == "number"
    assert header.config[0].default == 500
    assert header.config[1].options == ["fast", "slow"]
    assert header.permissions == ["documentEdit", "storyEdit"]


def test_compiled_script_carries_its_header() -> None:
    assert compile_script(FULL, "counter.py").header.id == "word-counter"


@pytest.mark.parametrize(
    "source",
    [
        "x = 1\n",
        '"""Just a docstring."""\n',
        "",
        '"""\n\n"""\n',
        "# comment only\n",
        "x = '''\n---\nname: not a header\n---\n'''\n",
    ],
)
def test_missing_front_matter_gives_defaults_from_the_file_name(source: str) -> None:
    header = parse_header(source, "/tmp/My Cool_Script.py")
    assert header.id == "my-cool-script"
    assert header.name == "My Cool_Script"
    assert header.permissions == []
    assert header.memoryLimit is None


def test_missing_id_is_derived_from_the_file_name() -> None:
    header = parse_header('"""\n---\nname: Named\n---\n"""\n', "dir/Story Helper.py")
    assert (header.id, header.name) == ("story-helper", "Named")


def test_a_header_without_id_or_name_takes_both_from_the_file_name() -> None:
    header = parse_header('"""\n---\nversion: 2.0.0\n---\n"""\n', "dir/Story Helper.py")
    assert (header.id, header.name, header.version) == ("story-helper", "Story Helper", "2.0.0")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("a.py", "a"), ("Über Tool!.py", "ber-tool"), ("___.py", "script"), ("", "script")],
)
def test_script_ids_are_slugs(filename: str, expected: str) -> None:
    assert script_id_from_filename(filename) == expected


def test_numbers_become_text_where_text_is_expected() -> None:
    header = parse_header('"""\n---\nversion: 1.0\nname: 7\n---\n"""\n', "n.py")
    assert (header.version, header.name) == ("1.0", "7")


def test_indented_header_in_docstring_is_accepted() -> None:
    source = '"""\n    ---\n    name: Indented\n    memoryLimit: 32\n    ---\n"""\n'
    header = parse_header(source, "i.py")
    assert (header.name, header.memoryLimit) == ("Indented", 32)


def header_error(source: str, known_permissions: tuple[str, ...] | None = None) -> HeaderError:
    with pytest.raises(HeaderError) as caught:
        parse_header(source, "bad.py", known_permissions)
    return caught.value


def test_unknown_key_is_named_with_its_line() -> None:
    error = header_error('"""\n---\nname: X\nmemorylimit: 64\n---\n"""\n')
    assert error.line == 4
    assert "unknown header key 'memorylimit'" in error.message
    assert str(error).startswith("bad.py:4: ")


def test_bad_value_is_named_with_its_line() -> None:
    error = header_error('"""\n---\nname: X\n\nmemoryLimit: lots\n---\n"""\n')
    assert error.line == 5
    assert "'memoryLimit'" in error.message


def test_nested_config_errors_point_at_the_option() -> None:
    source = (
        '"""\n---\nname: X\nconfig:\n  - name: a\n    type: string\n'
        '  - name: b\n    type: colour\n---\n"""\n'
    )
    error = header_error(source)
    assert "config.1.type" in error.message
    assert error.line == 8


def test_unknown_config_key_is_refused() -> None:
    error = header_error('"""\n---\nconfig:\n  - name: a\n    colour: red\n---\n"""\n')
    assert "config.0.colour" in error.message
    assert error.line == 5


PERMISSIONS_HEADER = '"""\n---\nname: X\npermissions: [documentEdit, rootAccess]\n---\n"""\n'


def test_any_well_formed_permission_name_is_accepted_without_a_vocabulary() -> None:
    # The sandbox knows no permission names; the host passes its own (known_permissions).
    header = parse_header(PERMISSIONS_HEADER, "p.py")
    assert header.permissions == ["documentEdit", "rootAccess"]


def test_unknown_permission_lists_the_known_ones() -> None:
    error = header_error(PERMISSIONS_HEADER, ("storyEdit", "documentEdit"))
    assert error.line == 4
    assert error.message == (
        "header key 'permissions': Value error, unknown permission 'rootAccess'; "
        "known: documentEdit, storyEdit"
    )


def test_compile_and_check_pass_the_vocabulary_on() -> None:
    known = ("documentEdit",)
    with pytest.raises(PolicyError, match=r"^p\.py:4:1: .*unknown permission 'rootAccess'"):
        compile_script(PERMISSIONS_HEADER, "p.py", known)
    assert [p.line for p in check_script(PERMISSIONS_HEADER, "p.py", known)] == [4]
    assert check_script(PERMISSIONS_HEADER, "p.py") == []


@pytest.mark.parametrize("name", ["", "root access", "9lives", "x/y"])
def test_malformed_permission_names_are_refused(name: str) -> None:
    error = header_error(f'"""\n---\npermissions:\n  - "{name}"\n---\n"""\n')
    assert error.line == 3
    assert f"{name!r} is not a permission name" in error.message


def test_permission_names_must_be_text() -> None:
    error = header_error('"""\n---\npermissions: [7]\n---\n"""\n')
    assert "permissions.0" in error.message


@pytest.mark.parametrize(
    ("source", "needle", "line"),
    [
        ('"""\n---\nname: [unclosed\n---\n"""\n', "not valid YAML", 3),
        ('"""\n---\n- just\n- a list\n---\n"""\n', "mapping", 3),
        ('"""\n---\nname: X\n"""\n', "never closed", 2),
        ('"""\n---\nmemoryLimit: -5\n---\n"""\n', "memoryLimit", 3),
        ('"""\n---\nid: ""\n---\n"""\n', "'id'", 3),
    ],
)
def test_malformed_headers(source: str, needle: str, line: int) -> None:
    error = header_error(source)
    assert needle in error.message
    assert error.line == line


def test_yaml_cannot_build_python_objects() -> None:
    error = header_error('"""\n---\nname: !!python/object/apply:os.system ["echo hi"]\n---\n"""\n')
    assert "YAML" in error.message


def test_check_script_reports_header_problems_with_other_problems() -> None:
    problems = check_script('"""\n---\nbogus: 1\n---\n"""\nimport os\n', "both.py")
    assert [problem.line for problem in problems] == [3, 6]
    assert "unknown header key 'bogus'" in problems[0].message
