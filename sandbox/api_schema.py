"""The description of the API a host hands to a script, as a tree the worker turns into proxies.

The sandbox gives the names no meaning: a namespace is a mapping, a leaf is ``"sync"`` (the
worker blocks for the host's answer), ``"async"`` (the call returns an awaitable at once, like a
JS promise), ``"display"`` (a sync call whose arguments are shown to a person, like
``console.log``'s: what is not plain data travels as its text instead of being refused) or a
constant value. On the wire a constant is ``{"$value": ...}`` so it cannot be
confused with a namespace.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from sandbox.api_kinds import ASYNC as ASYNC
from sandbox.api_kinds import DISPLAY as DISPLAY
from sandbox.api_kinds import KINDS, FunctionKind
from sandbox.api_kinds import SYNC as SYNC
from sandbox.api_kinds import blocks as blocks

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class Value(BaseModel):
    """A constant leaf (e.g. ``api.v1.script.id``); must be plain JSON data."""

    model_config = ConfigDict(frozen=True)
    value: Any


def _check_tree(node: Any, path: str) -> None:
    if not isinstance(node, dict):
        raise ValueError(f"{path or 'api'}: a namespace must be a mapping")
    for name, child in node.items():
        where = f"{path}.{name}" if path else name
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{where}: API names must be letters and digits, not underscores")
        if child in KINDS:
            continue
        if isinstance(child, dict) and set(child) == {"$value"}:
            continue
        _check_tree(child, where)


class ApiDescription(BaseModel):
    """A validated API tree in wire form; build one with ``ApiDescription.from_tree``."""

    model_config = ConfigDict(frozen=True)
    tree: dict[str, Any]

    @model_validator(mode="after")
    def _valid_names(self) -> ApiDescription:
        _check_tree(self.tree, "")
        return self

    @classmethod
    def from_tree(cls, tree: dict[str, Any]) -> ApiDescription:
        """Accept leaves ``"sync"``, ``"async"``, ``"display"`` or ``Value(x)``; nested dicts
        are namespaces."""

        def convert(node: Any) -> Any:
            if isinstance(node, Value):
                return {"$value": node.value}
            if isinstance(node, dict):
                return {name: convert(child) for name, child in node.items()}
            if node in KINDS:
                return node
            raise ValueError(
                f"unsupported API leaf {node!r}: use 'sync', 'async', 'display' or Value(...)"
            )

        return cls(tree=convert(tree))

    def kind_of(self, path: str) -> FunctionKind | None:
        """The kind of the function at dotted ``path``, or ``None`` if no function is there."""
        node: Any = self.tree
        for part in path.split("."):
            if not isinstance(node, dict) or part not in node or part == "$value":
                return None
            node = node[part]
        return node if node in KINDS else None
