"""Reading a script's front matter without pydantic: the part of header parsing the worker needs.

The host validates the whole header into a ``ScriptHeader`` (``sandbox.header``) before it
starts a worker. The worker only needs ``memoryLimit``, and importing pydantic would cost it
most of its start-up time, so it reads the block here: YAML is imported only when the script
has a block at all, and only ``memoryLimit`` is checked (as strictly as the host checks it).
"""

from __future__ import annotations

import ast
import textwrap
from typing import Any

FENCE = "---"
MEMORY_LIMIT_KEY = "memoryLimit"
MAX_MEMORY_LIMIT_MB = 65536


class HeaderError(ValueError):
    """The front matter is not valid; ``line`` is the script line (1-based) of the problem."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        self.filename = filename
        self.line = line
        self.message = message
        super().__init__(f"{filename}:{line}: {message}")


def front_matter(tree: ast.Module, filename: str) -> tuple[str, int] | None:
    """The YAML between the ``---`` fences and the script line its first line sits on."""
    if not tree.body:
        return None
    first = tree.body[0]
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return None
    lines = first.value.value.split("\n")
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index >= len(lines) or lines[index].strip() != FENCE:
        return None
    start = index + 1
    for end in range(start, len(lines)):
        if lines[end].strip() == FENCE:
            body = "\n".join(lines[start:end])
            return textwrap.dedent(body), first.lineno + start
    raise HeaderError(filename, first.lineno + index, "header opened with `---` but never closed")


def load_mapping(text: str, first_line: int, filename: str) -> dict[str, Any]:
    """The block's YAML as a dict (empty for an empty block); bad YAML names its line."""
    import yaml  # only scripts with a header pay for it

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = first_line + (mark.line if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc)
        raise HeaderError(filename, line, f"header is not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HeaderError(filename, first_line, "header must be a mapping of `key: value` lines")
    return dict(data)


def line_of(text: str, location: tuple[Any, ...]) -> int:
    """0-based line inside the YAML text of the node at ``location``, as close as we can get."""
    import yaml

    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 0
    line = 0
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next((pair for pair in node.value if pair[0].value == part), None)
            if match is None:
                break
            line = match[0].start_mark.line
            node = match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line


def memory_request(tree: ast.Module, filename: str) -> int | None:
    """The header's ``memoryLimit`` in MB, ``None`` when absent; anything else is an error.

    Accepts what the host's ``ScriptHeader`` accepts for the key: a whole number (an integral
    float or a digit string too) from 1 to 65536.
    """
    block = front_matter(tree, filename)
    if block is None:
        return None
    text, first_line = block
    value = load_mapping(text, first_line, filename).get(MEMORY_LIMIT_KEY)
    if value is None:
        return None
    megabytes = _whole_number(value)
    if megabytes is None or not 0 < megabytes <= MAX_MEMORY_LIMIT_MB:
        line = first_line + line_of(text, (MEMORY_LIMIT_KEY,))
        raise HeaderError(
            filename,
            line,
            f"header key {MEMORY_LIMIT_KEY!r}: must be a whole number of MB from 1 to "
            f"{MAX_MEMORY_LIMIT_MB}, got {value!r}",
        )
    return megabytes


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
