"""Moving along a story's history tree: undo, redo, retry as a sibling, jump, node state.

Undo goes to the parent; redo to the child made or visited last (so undo then redo returns
where you were, even after a retry made siblings). Retry is "undo the last generation": the
pipeline then generates again, and the new generation's node becomes a sibling of the old one,
which stays reachable by ``jump``. The methods block; call them through ``store.run``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nai_script.editor.models import HistoryNode, Section
from nai_script.editor.store import StoryStore


class NodeState(BaseModel):
    """A node as the history api reports it: where it sits, the document there, and the way
    from the current node to it (NovelAI's ``HistoryNodeState``): ``backward`` are the nodes
    undone, current first, up to the common ancestor; ``forward`` the nodes redone from there
    down to the node; ``start`` the document at the current node, where the way begins."""

    model_config = ConfigDict(extra="forbid")

    node: HistoryNode
    current: bool
    route: str | None
    sections: list[Section]
    backward: list[HistoryNode]
    forward: list[HistoryNode]
    start: list[Section]


class History:
    """The history tree of story ``story_id`` in ``store``."""

    def __init__(self, store: StoryStore, story_id: str) -> None:
        self.store = store
        self.story_id = story_id

    def current(self) -> HistoryNode:
        return self.store.node(self.story_id, self.store.current_node(self.story_id))

    def can_undo(self) -> bool:
        return self.current().parent is not None

    def can_redo(self) -> bool:
        return self.store.preferred_child(self.story_id, self.current().id) is not None

    def undo(self) -> HistoryNode | None:
        """Go to the parent node; None (nothing changes) at the root."""
        parent = self.current().parent
        return None if parent is None else self.store.move_to(self.story_id, parent)

    def redo(self, child: str | None = None) -> HistoryNode | None:
        """Go to ``child`` of the current node, or to the preferred child; None (nothing
        changes) at a leaf or for a node that is not a child of the current one."""
        current = self.current()
        if child is None:
            child = self.store.preferred_child(self.story_id, current.id)
        elif child not in current.children:
            return None
        return None if child is None else self.store.move_to(self.story_id, child)

    def prepare_retry(self) -> HistoryNode | None:
        """Step back over the current generation so the next one becomes its sibling.
        Returns the node now current, or None when the current node is not a generation
        (there is nothing to retry: the pipeline then simply generates)."""
        node = self.current()
        if node.kind != "generation" or node.parent is None:
            return None
        return self.store.move_to(self.story_id, node.parent)

    def jump(self, node_id: str) -> HistoryNode:
        """Go to any node of the tree (a StoryError naming it if there is none)."""
        return self.store.move_to(self.story_id, node_id)

    def steps(self, start: str, goal: str) -> tuple[int, int]:
        """How many nodes the way from ``start`` to ``goal`` undoes, then redoes."""
        up, down = (
            self.store.ancestors(self.story_id, start),
            self.store.ancestors(self.story_id, goal),
        )
        common = next(n for n in up if n in set(down))
        return up.index(common), down.index(common)

    def node_state(self, node_id: str) -> NodeState:
        store, story = self.store, self.story_id
        node = store.node(story, node_id)
        current = store.current_node(story)
        up, down = store.ancestors(story, current), store.ancestors(story, node_id)
        common = next(n for n in up if n in set(down))
        return NodeState(
            node=node,
            current=node.id == current,
            route=store.preferred_child(story, node_id),
            sections=store.node_sections(story, node_id),
            backward=[store.node(story, n) for n in up[: up.index(common)]],
            forward=[store.node(story, n) for n in reversed(down[: down.index(common)])],
            start=store.sections(story),
        )
