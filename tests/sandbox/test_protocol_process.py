"""Protocol failures with real (fake) worker processes: wrong version, garbage, oversize
frames, a pipe closed mid-frame, crashes with stderr, and frames split across writes."""

from __future__ import annotations

import sys

import pytest
from test_worker_harness import API, FAST, FakeHost

from sandbox.process import LoadFailed, ScriptWorker, WorkerDied
from sandbox.protocol import ExitReason

PRELUDE = """
import json, os, struct, sys, time
H = struct.Struct('>I')
def frame(obj):
    body = json.dumps(obj).encode()
    return H.pack(len(body)) + body
def send(obj):
    os.write(1, frame(obj))
def read_frame():
    data = b''
    while len(data) < 4:
        data += os.read(0, 4 - len(data))
    (n,) = H.unpack(data)
    body = b''
    while len(body) < n:
        body += os.read(0, n - len(body))
    return json.loads(body)
HELLO = {"t": "hello", "version": 1, "pid": os.getpid()}
"""


async def run_fake(body: str) -> tuple[LoadFailed | ScriptWorker, list[ExitReason]]:
    host = FakeHost()
    argv = (sys.executable, "-I", "-c", PRELUDE + body)
    try:
        worker = await ScriptWorker.start(
            name="fake.py",
            source="",
            filename="fake.py",
            api=API,
            handler=host.handle,
            limits=FAST,
            on_exit=host.exits.append,
            argv=argv,
        )
    except LoadFailed as failed:
        return failed, host.exits
    return worker, host.exits


FAILURES = [
    pytest.param(
        "send({'t': 'hello', 'version': 99, 'pid': 1}); time.sleep(5)",
        "protocol",
        ("version 99", "host speaks 1"),
        id="wrong_version",
    ),
    pytest.param(
        "os.write(1, H.pack(5) + b'xxxxx'); time.sleep(5)",
        "protocol",
        ("JSON",),
        id="garbage_instead_of_hello",
    ),
    pytest.param(
        "send({'t': 'idle'}); time.sleep(5)",
        "protocol",
        ("before hello",),
        id="other_message_before_hello",
    ),
    pytest.param(
        "send(HELLO); read_frame(); os.write(1, H.pack(2**31)); time.sleep(5)",
        "protocol",
        ("exceeds the limit",),
        id="oversize_frame_after_hello",
    ),
    pytest.param(
        # The oversize frame's bytes land in one go (a 1 MB pipe), so the host's reader has
        # paused the pipe before it sees the header: it then hung, waiting for a close it
        # could not see without reading on.
        "import fcntl; fcntl.fcntl(1, 1031, 1 << 20); send(HELLO); read_frame();"
        " os.write(1, H.pack(2**31) + b'x' * 900_000); time.sleep(5)",
        "protocol",
        ("exceeds the limit",),
        id="oversize_frame_with_its_bytes_already_sent",
    ),
    pytest.param(
        "send(HELLO); read_frame(); os.write(1, H.pack(100) + b'{\"t\": '); sys.exit(0)",
        "protocol",
        ("mid-frame",),
        id="pipe_closed_mid_frame",
    ),
    pytest.param(
        "send(HELLO); read_frame(); os.write(1, b'\\x00\\x00'); sys.exit(0)",
        "protocol",
        ("mid-frame header",),
        id="pipe_closed_mid_header",
    ),
    pytest.param(
        "send(HELLO); read_frame(); send({'t': 'log', 'level': 'loud', 'text': 'x'}); time.sleep(5)",
        "protocol",
        ("log.level",),
        id="invalid_message_names_the_field",
    ),
    pytest.param(
        "sys.stderr.write('cannot start: missing thing\\n'); sys.exit(2)",
        "protocol",
        ("before hello", "missing thing"),
        id="exit_before_hello_reports_stderr",
    ),
    pytest.param(
        "send(HELLO); read_frame(); sys.stderr.write('boom: internal failure\\n'); sys.exit(3)",
        "crashed",
        ("exited with code 3", "boom: internal failure"),
        id="crash_after_hello_reports_code_and_stderr_tail",
    ),
    pytest.param(
        "import signal; send(HELLO); read_frame(); os.kill(os.getpid(), signal.SIGSEGV)",
        "crashed",
        ("SIGSEGV",),
        id="death_by_signal_is_named",
    ),
    pytest.param(
        "send(HELLO); read_frame(); sys.stderr.write('Fatal Python error: MemoryError\\n'); os.abort()",
        "memory",
        ("SIGABRT",),
        id="death_out_of_memory_is_classified_as_memory",
    ),
]


@pytest.mark.parametrize(("body", "kind", "needles"), FAILURES)
async def test_a_failing_worker_is_reported_as_load_failed(
    body: str, kind: str, needles: tuple[str, ...]
) -> None:
    outcome, exits = await run_fake(body)
    assert isinstance(outcome, LoadFailed), outcome
    assert outcome.reason is not None
    assert outcome.reason.kind == kind, outcome.reason
    assert outcome.reason.script_name == "fake.py"
    for needle in needles:
        assert needle in outcome.reason.detail, outcome.reason.detail
    assert exits == [outcome.reason]


async def test_frames_written_byte_by_byte_are_reassembled() -> None:
    body = (
        "data = frame(HELLO)\n"
        "for b in data:\n"
        "    os.write(1, bytes([b]))\n"
        "read_frame()\n"
        "data = frame({'t': 'loaded', 'ok': True, 'memory_limit_mb': 200}) + frame({'t': 'idle', 'seen': 1})\n"
        "for b in data:\n"
        "    os.write(1, bytes([b])); time.sleep(0.001)\n"
        "while True:\n"
        "    m = read_frame()\n"
        "    if m['t'] == 'shutdown':\n"
        "        sys.exit(0)\n"
    )
    outcome, exits = await run_fake(body)
    assert isinstance(outcome, ScriptWorker)
    assert outcome.memory_limit_mb == 200
    await outcome.wait_idle()
    await outcome.shutdown(grace=2)
    assert exits[0].kind == "shutdown"


async def test_worker_that_ignores_shutdown_is_killed_after_grace() -> None:
    body = "send(HELLO); read_frame(); send({'t': 'loaded', 'ok': True}); time.sleep(30)"
    outcome, exits = await run_fake(body)
    assert isinstance(outcome, ScriptWorker)
    await outcome.shutdown(grace=0.2)
    assert exits == [
        ExitReason(kind="shutdown", detail="shut down by the host", script_name="fake.py")
    ]


@pytest.mark.parametrize(
    "second", ["{'t': 'hello', 'version': 1, 'pid': 1}", "{'t': 'loaded', 'ok': True}"]
)
async def test_repeated_handshake_messages_are_protocol_errors(second: str) -> None:
    body = (
        "send(HELLO); read_frame(); send({'t': 'loaded', 'ok': True}); "
        f"time.sleep(0.05); send({second}); time.sleep(5)"
    )
    outcome, exits = await run_fake(body)
    assert isinstance(outcome, ScriptWorker)
    reason = await outcome.wait_closed()
    assert reason.kind == "protocol"
    assert exits == [reason]


async def test_stale_status_does_not_pause_the_cpu_watchdog() -> None:
    # The worker's "I am blocked" crossed our invoke in the pipe: the watchdog must keep going.
    body = (
        "send(HELLO); read_frame(); send({'t': 'loaded', 'ok': True}); "
        "send({'t': 'idle', 'seen': 1}); read_frame(); send({'t': 'wait', 'seen': 1})\n"
        "while True:\n    pass\n"
    )
    outcome, _exits = await run_fake(body)
    assert isinstance(outcome, ScriptWorker)
    with pytest.raises(WorkerDied) as raised:
        await outcome.invoke("spin")
    assert raised.value.reason.kind == "cpu"
