"""A streamed generation written into the document as it arrives.

Every batch is committed before it is published (``Document.append(..., amend=node)``: one
history node for the whole generation, durable chunk by chunk, unless an edit lands on top of it
mid-stream: the rest then goes on in a node after that edit), then the page is told exactly
what changed: ``doc.stream {sectionId, text}`` for text that continues a section, and
``doc.section {op: "add", index, section}`` for each paragraph a newline opened.
"""

from __future__ import annotations

from nai_script.client import models as wire
from nai_script.editor.events import EventBus
from nai_script.editor.models import HistoryNode
from nai_script.editor.story_ops import StoryOps


class StreamedText:
    def __init__(self, ops: StoryOps, events: EventBus) -> None:
        self._ops = ops
        self._document = ops.document  # where the generation started, whatever opens later
        self._events = events
        self._parts: list[str] = []
        self._known: set[str] = set()
        self._last_id: str | None = None
        self.node: HistoryNode | None = None

    def _commit(self, text: str) -> tuple[HistoryNode | None, str | None]:
        """On the store's thread: extend this generation's node while it is current. An edit
        that landed on top meanwhile (the user fixing a typo mid-stream, a script's
        ``document`` call) used to end the generation with "no longer current"; the rest now
        goes on as a new generation node after it. Returns the node and the section the
        text's first line continues."""
        document = self._document
        amend = None if self.node is None else self.node.id
        last = self._last_id
        if amend is None or document.store.current_node(document.story_id) != amend:
            amend = None
            sections = document.sections()
            last = sections[-1].id if sections else None
        return document.append(text, "ai", amend=amend), last

    @property
    def text(self) -> str:
        return "".join(self._parts)

    async def start(self) -> None:
        sections = await self._ops.sections()
        self._known = {section.id for section in sections}
        self._last_id = sections[-1].id if sections else None

    async def add(self, text: str) -> None:
        if not text:
            return
        node, self._last_id = await self._ops.store.run(lambda: self._commit(text))
        if node is None:
            return
        if self.node is None:
            self._ops.previous_node_id = node.parent
        self.node = node
        self._parts.append(text)
        self._ops.host.history_node_id = node.id
        first = text.split("\n", 1)[0]
        if first and self._last_id is not None:
            self._events.publish({"type": "doc.stream", "sectionId": self._last_id, "text": first})
        for change in node.changes:
            section = change.after
            if change.op != "add" or section is None or section.id in self._known:
                continue
            self._known.add(section.id)
            self._last_id = section.id
            self._events.publish(
                {
                    "type": "doc.section",
                    "op": "add",
                    "index": change.index,
                    "section": section.model_dump(),
                }
            )


def merge_chunks(chunks: list[wire.ChatCompletionChunk]) -> tuple[str, list[int]]:
    """A batch of chunks as one: choice 0's text and token ids, in order."""
    texts: list[str] = []
    ids: list[int] = []
    for chunk in chunks:
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            texts.append(choice.delta.content or "")
            if choice.token_ids:
                ids += choice.token_ids
    return "".join(texts), ids
