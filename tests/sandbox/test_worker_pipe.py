"""The worker's pipe handling, in-process over real OS pipes (deterministic interleavings)."""

from __future__ import annotations

import os

import pytest
from test_worker_harness import make_worker, one_read

from sandbox.protocol import encode_frame
from sandbox.script_run import script_location


def test_sync_reply_sharing_a_read_with_later_frames_keeps_them() -> None:
    worker, host_w, host_r = make_worker()
    later = [
        {"t": "reply", "id": 99, "ok": True, "value": 1},
        {"t": "invoke", "id": 5, "target": "f", "args": []},
    ]
    reply = {"t": "reply", "id": 1, "ok": True, "value": {"text": "hi"}}
    os.write(host_w, b"".join(encode_frame(m) for m in [reply, *later]))
    value = worker.call_api(path="v1.x", remote=None, method="", sync=True, args=(), kwargs={})
    assert value.text == "hi"
    assert worker._backlog == later
    (call,) = one_read(host_r)
    assert call == {"t": "api_call", "id": 1, "sync": True, "args": [], "path": "v1.x", "seen": 0}
    worker.loop.close()


def test_frames_before_the_sync_reply_are_queued_in_order() -> None:
    worker, host_w, _host_r = make_worker()
    first = {"t": "invoke", "id": 1, "target": "a", "args": []}
    data = encode_frame(first) + encode_frame({"t": "reply", "id": 1, "ok": False, "error": "no"})
    for i in range(len(data)):  # the host's bytes arrive one at a time
        os.write(host_w, data[i : i + 1])
    with pytest.raises(Exception, match="no"):
        worker.call_api(path="v1.x", remote=None, method="", sync=True, args=(), kwargs={})
    assert worker._backlog == [first]
    worker.loop.close()


def test_script_location_uses_the_deepest_script_frame() -> None:
    code = compile("def f():\n    return 1 / 0\n", "name.py", "exec")
    scope: dict[str, object] = {}
    exec(code, scope)
    with pytest.raises(ZeroDivisionError) as raised:
        scope["f"]()  # type: ignore[operator]
    assert (
        script_location(raised.value, "name.py") == "name.py:2: ZeroDivisionError: division by zero"
    )
    assert script_location(ValueError(), "x.py") == "x.py: ValueError"


def test_reader_callback_on_a_drained_pipe_does_not_block() -> None:
    # The loop saw the fd readable, then a sync call consumed the bytes before the reader
    # callback ran: the callback must return, not block the worker forever on an empty pipe.
    worker, _host_w, _host_r = make_worker()
    worker._on_readable()
    assert worker._backlog == []
    worker.loop.close()
