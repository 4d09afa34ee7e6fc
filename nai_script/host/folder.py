"""The script folder: which files in it are scripts, in which order, and what they contain.

Editors litter a folder with swap files, lock files, backups and rename-targets while saving
(vim's ``4913`` probe and ``.x.py.swp``, Emacs' ``.#x.py`` and ``#x.py#``, JetBrains'
``___jb_tmp___``, GNOME's ``.goutputstream-*``, ``x.py~``, ``x.py.tmp``). None of them may ever
be loaded as a script, so one predicate decides for the initial load and the watcher alike.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

#: The folder ``serve`` watches when ``--scripts`` is not given.
DEFAULT_SCRIPTS_DIR = Path("scripts")

SCRIPT_SUFFIX = ".py"

# Prefixes and fragments of names editors and linters create next to the real file.
_TEMP_PREFIXES: tuple[str, ...] = (".", "#", "~", "flycheck_")
_TEMP_FRAGMENTS: tuple[str, ...] = ("___jb_", ".goutputstream-")
_TEMP_SUFFIXES: tuple[str, ...] = ("_flymake.py",)


def is_script_name(name: str) -> bool:
    """True when a file called ``name`` is a script (``x.py``), not hidden or an editor temp.
    A name that is not valid UTF-8 is not one: a script's id comes from its name."""
    if not name.endswith(SCRIPT_SUFFIX) or name == SCRIPT_SUFFIX:
        return False
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:  # undecodable bytes, kept as lone surrogates
            return False
    if name.startswith(_TEMP_PREFIXES) or name.endswith(_TEMP_SUFFIXES):
        return False
    return not any(fragment in name for fragment in _TEMP_FRAGMENTS)


def is_script_in(path: Path, directory: Path) -> bool:
    """True when ``path`` names a script directly inside ``directory`` (no subfolders)."""
    return path.parent == directory and is_script_name(path.name)


def list_scripts(directory: Path) -> list[Path]:
    """Every script file directly in ``directory``, sorted by file name so load order is stable.

    Raises ``NotADirectoryError``/``FileNotFoundError`` naming the folder when it is unusable.
    """
    if not directory.exists():
        raise FileNotFoundError(f"script folder {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise NotADirectoryError(f"script folder {str(directory)!r} is not a directory")
    scripts = [p for p in directory.iterdir() if is_script_name(p.name) and p.is_file()]
    return sorted(scripts, key=lambda p: p.name)


def content_digest(data: bytes) -> str:
    """A stable digest of a script's bytes: a save that changes nothing must not reload."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def decode_script(raw: bytes) -> str:
    """A script's text as Python reads a source file: UTF-8, unless a BOM or a coding line
    (PEP 263) says otherwise; ``check``, ``run`` and the host all read it so. Raises
    ``UnicodeDecodeError``, or ``SyntaxError``/``LookupError`` for a bad coding line."""
    return importlib.util.decode_source(raw)


def locate_decode_error(
    raw: bytes, error: UnicodeDecodeError | SyntaxError | LookupError
) -> tuple[int, int, str]:
    """Where and why ``decode_script(raw)`` raised ``error``: (line, column, message), at the
    first bad byte (a bad coding line: 1, 1), as ``check``, ``run`` and the host report it."""
    if isinstance(error, UnicodeDecodeError):
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        return (
            line,
            column,
            f"cannot decode source: byte 0x{raw[error.start]:02x} is not"
            f" {error.encoding.upper()} (scripts are UTF-8 unless a coding line says otherwise)",
        )
    return 1, 1, f"cannot decode source: {error}"


def read_script_bytes(path: Path) -> bytes | None:
    """The file's bytes, or ``None`` when it is gone or no longer a regular file."""
    try:
        if not path.is_file():
            return None
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
