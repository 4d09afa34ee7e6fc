"""History diffs: apply a node's section changes, or undo them.

A node stores only what it changed, each change with its before and after, so moving along the
tree (undo, redo, jump) costs the changes on the path, never a copy of the document.
"""

from __future__ import annotations

from nai_script.editor.models import Section, SectionChange


class DiffError(ValueError):
    """A change that does not fit the document it is applied to (a corrupt or foreign node)."""


def apply_changes(sections: list[Section], changes: list[SectionChange]) -> list[Section]:
    """The document after ``changes``, applied in order (the input list is not modified)."""
    doc = list(sections)
    for number, change in enumerate(changes):
        where = f"change {number} ({change.op} at {change.index})"
        if change.op == "add":
            if change.after is None or change.index > len(doc):
                raise DiffError(f"{where}: no section to add, or index past the end")
            doc.insert(change.index, change.after)
            continue
        if change.index >= len(doc) or change.before is None:
            raise DiffError(f"{where}: index past the end of {len(doc)} sections")
        if doc[change.index].id != change.before.id:
            raise DiffError(
                f"{where}: expected section {change.before.id}, found {doc[change.index].id}"
            )
        if change.op == "update":
            if change.after is None:
                raise DiffError(f"{where}: update without the new section")
            doc[change.index] = change.after
        else:
            del doc[change.index]
    return doc


def inverse(changes: list[SectionChange]) -> list[SectionChange]:
    """The changes that undo ``changes`` (reverse order, each one turned around)."""
    flipped = {"add": "remove", "remove": "add", "update": "update"}
    return [
        SectionChange(op=flipped[c.op], index=c.index, before=c.after, after=c.before)
        for c in reversed(changes)
    ]


def compacted(changes: list[SectionChange]) -> list[SectionChange]:
    """``changes`` with each update folded into the change just before it when both touch
    the same section at the same place (an add then updates stays one add; updates stay one
    update), so a node that grew chunk by chunk stores one change per section, not per chunk."""
    out: list[SectionChange] = []
    for change in changes:
        last = out[-1] if out else None
        if (
            last is not None
            and change.op == "update"
            and last.op in ("add", "update")
            and last.index == change.index
            and last.after is not None
            and change.before is not None
            and last.after.id == change.before.id
        ):
            out[-1] = last.model_copy(update={"after": change.after})
        else:
            out.append(change)
    return out
