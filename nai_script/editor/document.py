"""Operations on one story's document, each committed as one history node.

Every method reads the document and writes its change inside one store transaction (see
``StoryStore.commit``), so concurrent edits never lose each other. The methods block (an fsync
each); from async code call them through ``store.run(lambda: doc.append(...))``.

Text follows NovelAI's paragraph model: a section is a paragraph, ``\\n`` separates sections.
``append`` continues the last paragraph (so an AI continuation joins the user's sentence) and
opens a new section at each newline; ``append_paragraph`` always starts a new one.
"""

from __future__ import annotations

from nai_script.editor.models import HistoryKind, HistoryNode, Origin, Section, SectionChange
from nai_script.editor.spans import with_appended, with_text
from nai_script.editor.store import StoryError, StoryStore

_KIND_OF_ORIGIN: dict[Origin, HistoryKind] = {
    "user": "input",
    "prompt": "input",
    "ai": "generation",
    "edit": "edit",
    "script": "script",
}


def kind_for(origin: Origin) -> HistoryKind:
    """The history node kind an edit by ``origin`` makes (AI text: a generation node)."""
    return _KIND_OF_ORIGIN[origin]


def _new_section(text: str, origin: Origin) -> Section:
    return with_appended(Section(text="", origin=origin), text, origin)


def _find(sections: list[Section], section_id: str) -> int:
    for index, section in enumerate(sections):
        if section.id == section_id:
            return index
    raise StoryError(f"no section {section_id!r} in the document")


class Document:
    """The document of story ``story_id`` in ``store``."""

    def __init__(self, store: StoryStore, story_id: str) -> None:
        self.store = store
        self.story_id = story_id
        store.story(story_id)  # fail here, naming the story, rather than at the first edit

    # ------------------------------------------------------------------------------ reads

    def sections(self) -> list[Section]:
        return self.store.sections(self.story_id)

    def section_ids(self) -> list[str]:
        return [s.id for s in self.sections()]

    def section(self, section_id: str) -> Section:
        sections = self.sections()
        return sections[_find(sections, section_id)]

    def text(self) -> str:
        """The whole document as text, paragraphs joined with newlines."""
        return "\n".join(s.text for s in self.sections())

    # ----------------------------------------------------------------------------- writes

    def append(
        self,
        text: str,
        origin: Origin = "user",
        *,
        kind: HistoryKind | None = None,
        amend: str | None = None,
    ) -> HistoryNode | None:
        """Continue the last paragraph with ``text``; each newline opens a new section.

        Streaming: append the first chunk normally, then pass its node's id as ``amend`` for
        the rest; the generation stays one history node (see ``StoryStore.commit``)."""
        if not text:
            return None
        first, *rest = text.split("\n")

        def build(doc: list[Section]) -> list[SectionChange]:
            changes: list[SectionChange] = []
            new_pieces = rest if doc else [first, *rest]
            if doc and first:
                last = doc[-1]
                after = with_appended(last, first, origin)
                changes.append(
                    SectionChange(op="update", index=len(doc) - 1, before=last, after=after)
                )
            for offset, piece in enumerate(new_pieces):
                section = _new_section(piece, origin)
                changes.append(SectionChange(op="add", index=len(doc) + offset, after=section))
            return changes

        return self.store.commit(self.story_id, kind or kind_for(origin), build, amend=amend)

    def append_paragraph(
        self, text: str, origin: Origin = "user", *, kind: HistoryKind | None = None
    ) -> HistoryNode | None:
        """Add ``text`` as new paragraph(s) at the end of the document."""

        def build(doc: list[Section]) -> list[SectionChange]:
            return [
                SectionChange(op="add", index=len(doc) + i, after=_new_section(piece, origin))
                for i, piece in enumerate(text.split("\n"))
            ]

        return self.store.commit(self.story_id, kind or kind_for(origin), build)

    def insert_after(
        self, section_id: str | None, text: str, origin: Origin = "user"
    ) -> HistoryNode | None:
        """Insert new paragraph(s) after ``section_id`` (None: at the very start)."""

        def build(doc: list[Section]) -> list[SectionChange]:
            start = 0 if section_id is None else _find(doc, section_id) + 1
            return [
                SectionChange(op="add", index=start + i, after=_new_section(piece, origin))
                for i, piece in enumerate(text.split("\n"))
            ]

        return self.store.commit(self.story_id, kind_for(origin), build)

    def update(self, section_id: str, text: str, origin: Origin = "edit") -> HistoryNode | None:
        """Replace a paragraph's text; the changed part is marked ``origin``. A newline in
        ``text`` is refused: one section is one paragraph."""
        if "\n" in text:
            raise ValueError(f"section {section_id}: text must be one paragraph (no newline)")

        def build(doc: list[Section]) -> list[SectionChange]:
            index = _find(doc, section_id)
            before = doc[index]
            if before.text == text:
                return []
            after = with_text(before, text, origin)
            return [SectionChange(op="update", index=index, before=before, after=after)]

        return self.store.commit(self.story_id, kind_for(origin), build)

    def remove(self, section_id: str, origin: Origin = "edit") -> HistoryNode | None:
        def build(doc: list[Section]) -> list[SectionChange]:
            index = _find(doc, section_id)
            return [SectionChange(op="remove", index=index, before=doc[index])]

        return self.store.commit(self.story_id, kind_for(origin), build)

    def replace_all(self, text: str, origin: Origin = "edit") -> HistoryNode | None:
        """Make the document ``text`` (the page's plain-text edit): unchanged paragraphs are
        kept with their ids and origins, changed ones updated, the rest added or removed."""
        pieces = text.split("\n")

        def build(doc: list[Section]) -> list[SectionChange]:
            changes: list[SectionChange] = []
            for index, piece in enumerate(pieces):
                if index < len(doc):
                    if doc[index].text != piece:
                        after = with_text(doc[index], piece, origin)
                        changes.append(
                            SectionChange(op="update", index=index, before=doc[index], after=after)
                        )
                else:
                    section = _new_section(piece, origin)
                    changes.append(SectionChange(op="add", index=index, after=section))
            for index in range(len(doc) - 1, len(pieces) - 1, -1):
                changes.append(SectionChange(op="remove", index=index, before=doc[index]))
            return changes

        return self.store.commit(self.story_id, kind_for(origin), build)
