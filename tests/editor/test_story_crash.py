"""kill -9 a real process mid-write: every acknowledged edit is in the file, and it opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from nai_script.editor.document import Document
from nai_script.editor.history import History
from nai_script.editor.store import StoryStore

WRITER = textwrap.dedent(
    """
    import sys
    from nai_script.editor.document import Document
    from nai_script.editor.history import History
    from nai_script.editor.models import LorebookEntry
    from nai_script.editor.store import StoryStore

    store = StoryStore(sys.argv[1])
    doc, history = Document(store, "s"), History(store, "s")
    i = 0
    while True:
        doc.append_paragraph(f"p{i}", "user")
        doc.append(f" ai{i}", "ai")
        if i % 3 == 2:
            history.prepare_retry()
            doc.append(f" retry{i}", "ai")
        store.put_entry("s", LorebookEntry(id=f"e{i}", text=str(i)))
        print(i, flush=True)  # acknowledged: all of step i returned
        i += 1
    """
)


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "stories.sqlite3"
    StoryStore(path).create_story(story_id="s")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked = -1
    for line in proc.stdout:
        acked = int(line)
        if acked >= 25:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert acked >= 25

    store = StoryStore(path)
    texts = [s.text for s in Document(store, "s").sections()]
    for i in range(acked + 1):
        expected = f"p{i} retry{i}" if i % 3 == 2 else f"p{i} ai{i}"
        assert texts[i] == expected
    assert len(texts) in (acked + 1, acked + 2)  # a step may have been cut after its first edit
    ids = {e.id for e in store.entries("s")}
    assert {f"e{i}" for i in range(acked + 1)} <= ids

    # The history is whole: back to the root and forward again reproduces the document.
    doc, history = Document(store, "s"), History(store, "s")
    tip, before = history.current().id, doc.text()
    while history.undo() is not None:
        pass
    assert doc.text() == ""
    history.jump(tip)
    assert doc.text() == before
