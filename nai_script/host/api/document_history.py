"""``api.v1.document.history.*``: where the story is in its history tree, and moving along it.

Node ids are strings (NovelAI's are numbers; ours are the store's own ids, see docs). Moving
(undo, redo, jump) needs ``documentEdit`` and fires ``onHistoryNavigated``. ``nodeState``
answers NovelAI's ``HistoryNodeState``: the way from the current node to the asked one
(``backwardPath``/``forwardPath`` and, per node on it, a change map of ``[sectionId, step]``),
the document there and ``targetNode``; it does not move.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from nai_script.editor.diff import inverse
from nai_script.editor.models import HistoryNode, Section, SectionChange
from nai_script.editor.pipeline import EditorBlocked
from nai_script.editor.store import StoryError
from nai_script.host.api.basics import require_permission
from nai_script.host.api.document_api import section_view
from nai_script.host.api.editor_api import editor_of
from nai_script.host.dispatch import REQUIRED, ApiFailure, ApiUsageError, CallContext, Route

if TYPE_CHECKING:
    from nai_script.editor.pipeline import Editor


def _node_id(value: Any, what: str = "nodeId") -> str:
    if not isinstance(value, str):
        raise ApiUsageError(f"{what}: must be a string, got {type(value).__name__}")
    return value


async def _current_node_id(ctx: CallContext) -> str:
    ctx.bind()
    editor = editor_of(ctx)
    return await editor.store.run(lambda: editor.store.current_node(editor.story_id))


async def _previous_node_id(ctx: CallContext) -> str | None:
    ctx.bind()
    return editor_of(ctx).previous_node_id


async def _most_recent_generation_node_id(ctx: CallContext) -> str | None:
    ctx.bind()
    editor = editor_of(ctx)
    store, sid = editor.store, editor.story_id

    def find() -> str | None:
        for node_id in store.ancestors(sid, store.current_node(sid)):
            if store.node(sid, node_id).kind == "generation":
                return node_id
        return None

    return await store.run(find)


async def _navigate(ctx: CallContext, move: Callable[[Editor], Awaitable[Any]]) -> Any:
    require_permission(ctx, "documentEdit")
    try:
        return await move(editor_of(ctx))
    except (StoryError, EditorBlocked) as error:
        raise ApiFailure(f"{ctx.name}: {error}") from None


async def _undo(ctx: CallContext) -> bool:
    ctx.bind()
    return await _navigate(ctx, lambda editor: editor.undo()) is not None


async def _redo(ctx: CallContext) -> bool:
    """``redo(nodeId?)``: to that child of the current node (False, not moved, for a node that
    is not one), or to the preferred child."""
    node_id = ctx.bind(("nodeId", None))["nodeId"]
    child = None if node_id is None else _node_id(node_id)
    return await _navigate(ctx, lambda editor: editor.redo(child)) is not None


async def _jump(ctx: CallContext) -> bool:
    """True once moved, as NovelAI's ``Promise<boolean>``; an unknown node is an ``ApiError``."""
    node_id = _node_id(ctx.bind(("nodeId", REQUIRED))["nodeId"])
    await _navigate(ctx, lambda editor: editor.jump(node_id))
    return True


def _text_diff(old: str, new: str) -> dict[str, Any]:
    """NovelAI's ``HistoryDiffText``: one part replacing what lies between the common head
    and tail. Origin and formatting diffs are not reported (empty lists)."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    part = {
        "from": head,
        "insert": new[head : len(new) - tail],
        "delete": old[head : len(old) - tail],
    }
    return {"parts": [part], "origin": [], "formatting": []}


def _change_map(doc: list[Section], changes: list[SectionChange]) -> list[list[Any]]:
    """``[[sectionId, step], ...]`` for ``changes`` applied to ``doc`` (which they update):
    ``create``/``remove`` name the section they sit ``after`` (None at the start)."""
    steps: list[list[Any]] = []
    for change in changes:
        after = doc[change.index - 1].id if change.index > 0 else None
        if change.op == "add" and change.after is not None:
            doc.insert(change.index, change.after)
            step = {"type": "create", "section": section_view(change.after), "after": after}
            steps.append([change.after.id, step])
        elif change.op == "remove" and change.before is not None:
            del doc[change.index]
            step = {"type": "remove", "previous": section_view(change.before), "after": after}
            steps.append([change.before.id, step])
        elif change.before is not None and change.after is not None:
            doc[change.index] = change.after
            diff = _text_diff(change.before.text, change.after.text)
            steps.append([change.after.id, {"type": "update", "diff": diff}])
    return steps


def _node_info(node: HistoryNode, route: str | None) -> dict[str, Any]:
    """NovelAI's ``HistoryNodeInfo``, with our ``kind`` and ``created`` besides."""
    info = {"id": node.id, "parent": node.parent, "children": node.children, "route": route}
    return {**info, "genPosition": None, "kind": node.kind, "created": node.created}


async def _node_state(ctx: CallContext) -> dict[str, Any] | None:
    """The way to the node and the document there, or None for a node the story does not
    have (NovelAI's ``undefined``); ``nodeId`` defaults to the current node."""
    node_id = ctx.bind(("nodeId", None))["nodeId"]
    if node_id is not None:
        _node_id(node_id)
    try:
        state = await editor_of(ctx).node_state(node_id)
    except StoryError:
        return None
    doc = list(state.start)
    backward = [_change_map(doc, inverse(node.changes)) for node in state.backward]
    forward = [_change_map(doc, node.changes) for node in state.forward]
    return {
        "backwardPath": [node.id for node in state.backward],
        "forwardPath": [node.id for node in state.forward],
        "backwardChanges": backward,
        "forwardChanges": forward,
        "sections": [{"sectionId": s.id, "section": section_view(s)} for s in state.sections],
        "targetNode": _node_info(state.node, state.route),
    }


ROUTES: dict[str, Route] = {
    "v1.document.history.currentNodeId": _current_node_id,
    "v1.document.history.previousNodeId": _previous_node_id,
    "v1.document.history.mostRecentGenerationNodeId": _most_recent_generation_node_id,
    "v1.document.history.undo": _undo,
    "v1.document.history.redo": _redo,
    "v1.document.history.jump": _jump,
    "v1.document.history.nodeState": _node_state,
}
