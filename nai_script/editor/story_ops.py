"""The editor's story side: which story is open, its snapshot, and every change to it that
the page or a script makes, each published on the event bus as it lands.

All store calls go through ``store.run`` (the store's one thread), so the event loop never
waits for an fsync. ``Editor`` (pipeline.py) adds generation on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from nai_script.editor.document import Document
from nai_script.editor.events import EventBus
from nai_script.editor.history import History, NodeState
from nai_script.editor.models import (
    HistoryNode,
    LorebookCategory,
    LorebookEntry,
    Section,
    StorySettings,
)
from nai_script.editor.snapshot import story_snapshot
from nai_script.editor.store import StoryStore

if TYPE_CHECKING:
    from nai_script.host.host import ScriptHost

Navigation = Literal["undo", "redo", "jump"]


class StoryOps:
    """One open story of ``store``, published on ``events``; ``host`` learns the story and
    history node (storyStorage/historyStorage are keyed by them) and fires the hooks."""

    def __init__(
        self, store: StoryStore, host: ScriptHost, events: EventBus, story_id: str | None = None
    ) -> None:
        self.store = store
        self.host = host
        self.events = events
        self.story_id = story_id or _latest_or_new(store)
        self._selection: dict[str, Any] | None = None
        self.previous_node_id: str | None = None
        self._bind(self.story_id)

    def _bind(self, story_id: str) -> None:
        self.store.story(story_id)  # a StoryError naming it if there is none
        self.story_id = story_id
        self.document = Document(self.store, story_id)
        self.history = History(self.store, story_id)
        self.host.story_id = story_id
        self.host.history_node_id = self.store.current_node(story_id)

    # ----------------------------------------------------------------------- stories

    def check_idle(self, what: str) -> None:
        """Raise if ``what`` must wait (``Editor``: while a generation writes the story)."""

    async def open_story(self, story_id: str) -> None:
        self.check_idle("opening a story")

        def bind_and_remember() -> None:
            self._bind(story_id)
            self.store.set_last_opened(story_id)  # the next start opens it again

        await self.store.run(bind_and_remember)
        await self.publish_state()
        await self.refresh_script_ui()

    async def create_story(self, title: str = "Untitled") -> str:
        self.check_idle("creating a story")  # before it exists: a refusal leaves no stray story
        info = await self.store.run(lambda: self.store.create_story(StorySettings(title=title)))
        await self.open_story(info.id)
        return info.id

    async def snapshot(self) -> dict[str, Any]:
        """The whole open story as JSON (the page's ``story.state``), plus the story list."""

        def read() -> dict[str, Any]:
            snap = story_snapshot(self.store, self.story_id).model_dump(mode="json")
            snap["stories"] = [info.model_dump() for info in self.store.list_stories()]
            return snap

        return await self.store.run(read)

    async def publish_state(self) -> None:
        self.events.publish({"type": "story.state", "story": await self.snapshot()})

    # ---------------------------------------------------------------------- document

    def set_selection(self, selection: dict[str, Any] | None) -> None:
        """The page reports the user's selection (``{from, to, anchor, head}``, each
        ``{sectionId, offset}``); None: no selection (a caret at the end is reported)."""
        self._selection = selection

    async def selection(self) -> dict[str, Any]:
        if self._selection is not None:
            return self._selection
        sections = await self.sections()
        caret = (
            {"sectionId": sections[-1].id, "offset": len(sections[-1].text)}
            if sections
            else {"sectionId": None, "offset": 0}
        )
        return {"from": caret, "to": caret, "anchor": caret, "head": caret}

    async def sections(self) -> list[Section]:
        return await self.store.run(self.document.sections)

    async def text(self) -> str:
        return await self.store.run(self.document.text)

    async def edit(self, change: Callable[[Document], HistoryNode | None]) -> HistoryNode | None:
        """Run one document operation (``lambda doc: doc.append(...)``) and publish it."""
        document = self.document
        node = await self.store.run(lambda: change(document))
        if node is not None:
            await self.publish_node(node)
        return node

    async def publish_node(self, node: HistoryNode) -> None:
        self.previous_node_id = node.parent
        self.host.history_node_id = node.id
        for change in node.changes:
            section = change.after if change.op != "remove" else change.before
            assert section is not None
            self.events.publish(
                {
                    "type": "doc.section",
                    "op": change.op,
                    "index": change.index,
                    "section": section.model_dump(),
                }
            )
        await self._publish_history()

    async def _publish_history(self) -> None:
        def read() -> dict[str, Any]:
            current = self.history.current()
            return {
                "type": "history.changed",
                "currentNode": current.id,
                "kind": current.kind,
                "canUndo": current.parent is not None,
                "canRedo": self.history.can_redo(),
            }

        self.events.publish(await self.store.run(read))

    # ----------------------------------------------------------------------- history

    async def undo(self) -> HistoryNode | None:
        return await self._navigate("undo", self.history.undo)

    async def redo(self, child: str | None = None) -> HistoryNode | None:
        return await self._navigate("redo", lambda: self.history.redo(child))

    async def jump(self, node_id: str) -> HistoryNode | None:
        return await self._navigate("jump", lambda: self.history.jump(node_id))

    async def node_state(self, node_id: str | None = None) -> NodeState:
        history = self.history
        return await self.store.run(
            lambda: history.node_state(node_id or history.store.current_node(history.story_id))
        )

    async def _navigate(
        self, how: Navigation, move: Callable[[], HistoryNode | None]
    ) -> HistoryNode | None:
        self.check_idle(how)
        previous = self.host.history_node_id

        def moved() -> tuple[HistoryNode | None, tuple[int, int]]:
            before = self.history.current().id
            node = move()
            return node, (0, 0) if node is None else self.history.steps(before, node.id)

        node, (back, forth) = await self.store.run(moved)
        if node is None:
            return None
        self.previous_node_id = previous
        self.host.history_node_id = node.id
        await self.publish_state()
        await self.refresh_script_ui()
        direction = "both" if back and forth else "backward" if back else "forward"
        await self.host.fire_hook(
            "onHistoryNavigated",
            {
                "nodeId": node.id,
                "previousNodeId": previous,
                "direction": direction,
                "distance": back + forth,
                "cause": how,
            },
        )
        return node

    async def refresh_script_ui(self) -> None:
        """Another story or history node: ``story:``/``history:``-bound UI values may differ."""
        if self.host.ui is not None:
            await self.host.ui.refresh_all_bound()

    # ---------------------------------------------------------------------- settings

    async def settings(self) -> StorySettings:
        return await self.store.run(lambda: self.store.settings(self.story_id))

    async def update_settings(self, patch: dict[str, Any]) -> StorySettings:
        """Merge ``patch`` (a pydantic ValidationError names a bad field; nothing is saved)."""
        sid = self.story_id
        settings = await self.store.run(lambda: self.store.update_settings(sid, patch))
        self.events.publish({"type": "settings.changed", "settings": settings.model_dump()})
        return settings

    # ---------------------------------------------------------------------- lorebook

    async def lorebook(self) -> tuple[list[LorebookEntry], list[LorebookCategory]]:
        sid = self.story_id
        return await self.store.run(lambda: (self.store.entries(sid), self.store.categories(sid)))

    async def put_entry(self, entry: LorebookEntry) -> LorebookEntry:
        sid = self.story_id
        saved = await self.store.run(lambda: self.store.put_entry(sid, entry))
        await self._publish_lorebook()
        return saved

    async def delete_entry(self, entry_id: str) -> None:
        sid = self.story_id
        await self.store.run(lambda: self.store.delete_entry(sid, entry_id))
        await self._publish_lorebook()

    async def put_category(self, category: LorebookCategory) -> LorebookCategory:
        sid = self.story_id
        saved = await self.store.run(lambda: self.store.put_category(sid, category))
        await self._publish_lorebook()
        return saved

    async def delete_category(self, category_id: str) -> None:
        sid = self.story_id
        await self.store.run(lambda: self.store.delete_category(sid, category_id))
        await self._publish_lorebook()

    async def select_lorebook_entry(
        self, entry_id: str | None, category_id: str | None = None
    ) -> None:
        """The page selected an entry (or a category) in the lorebook panel
        (``onLorebookEntrySelected({entryId?, categoryId?})``: only the selected one's key;
        nothing selected asks no script)."""
        params = {"entryId": entry_id, "categoryId": category_id}
        selected = {k: v for k, v in params.items() if v is not None}
        if selected:
            await self.host.fire_hook("onLorebookEntrySelected", selected)

    async def _publish_lorebook(self) -> None:
        entries, categories = await self.lorebook()
        self.events.publish(
            {
                "type": "lorebook.changed",
                "entries": [e.model_dump() for e in entries],
                "categories": [c.model_dump() for c in categories],
            }
        )


def _latest_or_new(store: StoryStore) -> str:
    """The story open when the editor last stopped, else the most recently changed one,
    else a new one."""
    last = store.last_opened()
    if last is not None:
        return last
    stories = store.list_stories()
    return stories[0].id if stories else store.create_story().id
