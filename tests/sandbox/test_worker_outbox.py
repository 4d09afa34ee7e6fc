"""The worker's outbox: an invocation's result, the call after it and the status behind them
share one write."""

from __future__ import annotations

import os

from test_worker_harness import make_worker, one_read

from sandbox.protocol import encode_frame
from sandbox.worker_pipe import HOLD_S


def test_result_waits_for_the_iteration_end_and_leaves_with_the_status() -> None:
    worker, host_w, host_r = make_worker()
    worker._globals = {"f": lambda x: x + 1}
    os.write(host_w, encode_frame({"t": "invoke", "id": 1, "target": "f", "args": [41]}))
    worker._on_readable()
    assert one_read(host_r) == []  # queued, not yet written
    worker._before_select(True)
    assert one_read(host_r) == [
        {"t": "invoke_result", "id": 1, "ok": True, "value": 42},
        {"t": "idle", "seen": 1},
    ]
    worker.loop.close()


def test_a_non_blocking_iteration_holds_the_result_until_it_has_waited_hold_s() -> None:
    """The loop has more to run (the script's next call, usually): the result waits for it, but
    never longer than ``HOLD_S``, and then goes without a status (the loop is not blocking)."""
    worker, host_w, host_r = make_worker()
    worker._globals = {"f": lambda: None}
    os.write(host_w, encode_frame({"t": "invoke", "id": 3, "target": "f", "args": []}))
    worker._on_readable()
    worker._before_select(False)
    assert one_read(host_r) == []  # held: the iteration after may add to the same write
    worker._pipe.queued_at -= HOLD_S  # as if it had waited that long
    worker._before_select(False)
    assert one_read(host_r) == [{"t": "invoke_result", "id": 3, "ok": True, "value": None}]
    worker._before_select(True)  # the status still follows when the loop blocks
    assert one_read(host_r) == [{"t": "idle", "seen": 1}]
    worker.loop.close()


def test_failed_result_is_queued_too_and_a_direct_send_keeps_the_order() -> None:
    worker, host_w, host_r = make_worker()

    def boom() -> None:
        raise ValueError("nope")

    worker._globals = {"f": boom}
    os.write(host_w, encode_frame({"t": "invoke", "id": 2, "target": "f", "args": []}))
    worker._on_readable()
    worker._print("after")  # a log line sent at once must not overtake the queued result
    frames = one_read(host_r)
    assert [f["t"] for f in frames] == ["invoke_result", "log"]
    assert frames[0]["ok"] is False
    assert "ValueError: nope" in str(frames[0]["error"])
    worker._before_select(True)
    assert one_read(host_r) == [{"t": "idle", "seen": 1}]
    worker.loop.close()


def test_nothing_is_written_by_an_iteration_with_nothing_to_say() -> None:
    worker, _host_w, host_r = make_worker()
    worker._before_select(True)
    worker._before_select(False)
    assert one_read(host_r) == []
    worker.loop.close()
