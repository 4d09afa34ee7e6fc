"""Origin spans: who wrote which characters of a section.

The page marks AI text, so an AI continuation of a user paragraph, or a user edit inside an AI
paragraph, must keep each part's origin. Spans are kept sorted, contiguous, covering the whole
text and merged when neighbours share an origin.
"""

from __future__ import annotations

from nai_script.editor.models import Origin, OriginSpan, Section


def normalized(spans: list[OriginSpan]) -> list[OriginSpan]:
    """Drop empty spans, merge equal neighbours and renumber positions from 0."""
    out: list[OriginSpan] = []
    position = 0
    for span in spans:
        if span.length == 0:
            continue
        if out and out[-1].data == span.data:
            out[-1] = OriginSpan(
                position=out[-1].position, length=out[-1].length + span.length, data=span.data
            )
        else:
            out.append(OriginSpan(position=position, length=span.length, data=span.data))
        position += span.length
    return out


def spans_of(section: Section) -> list[OriginSpan]:
    """The section's spans, or one span of its origin when it has none (or stale ones)."""
    if sum(s.length for s in section.origins) == len(section.text):
        return normalized(section.origins)
    return normalized([OriginSpan(position=0, length=len(section.text), data=section.origin)])


def _cut(spans: list[OriginSpan], start: int, end: int) -> list[OriginSpan]:
    """The spans covering characters ``start..end`` (lengths clipped)."""
    out: list[OriginSpan] = []
    for span in spans:
        lo, hi = max(start, span.position), min(end, span.position + span.length)
        if hi > lo:
            out.append(OriginSpan(position=0, length=hi - lo, data=span.data))
    return out


def with_appended(section: Section, text: str, origin: Origin) -> Section:
    """The section with ``text`` written by ``origin`` added at its end."""
    spans = [*spans_of(section), OriginSpan(position=0, length=len(text), data=origin)]
    return section.model_copy(update={"text": section.text + text, "origins": normalized(spans)})


def with_text(section: Section, text: str, origin: Origin) -> Section:
    """The section with its text replaced: the unchanged head and tail keep their origins, the
    changed middle is marked ``origin`` (an edit of one word does not unmark a paragraph)."""
    old = section.text
    head = 0
    limit = min(len(old), len(text))
    while head < limit and old[head] == text[head]:
        head += 1
    tail = 0
    while tail < limit - head and old[len(old) - 1 - tail] == text[len(text) - 1 - tail]:
        tail += 1
    spans = spans_of(section)
    middle = OriginSpan(position=0, length=len(text) - head - tail, data=origin)
    merged = [*_cut(spans, 0, head), middle, *_cut(spans, len(old) - tail, len(old))]
    return section.model_copy(update={"text": text, "origins": normalized(merged)})
