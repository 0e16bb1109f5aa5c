"""A producer used in a child process after os.fork(): without kprod.fork.reinitialize
every call raises at once (flush and close never hang); with it, the child fails what
it inherited and sends with a fresh I/O thread and producer id. The child reports
through a pipe; the records are read back with confluent-kafka."""
from __future__ import annotations

import json
import os
import select

import pytest

from .readback import read_all

GET_TIMEOUT = 30
pytestmark = pytest.mark.timeout(120)


def _in_child(body) -> dict:
    """Run ``body()`` (returns a JSON-able dict) in a forked child; its result, or the
    child's traceback, comes back through a pipe. The child has 60 s."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:                                  # child
        os.close(read_end)
        try:
            result = body()
        except BaseException as exc:              # report everything, never hang
            result = {"crashed": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 60)
        if not ready:
            os.kill(pid, 9)
            pytest.fail("the child hung")
        data = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    return json.loads(data)


def test_without_opt_in_the_child_fails_fast_and_never_hangs(make_topic, make_producer,
                                                             bootstrap):
    topic = make_topic()
    producer = make_producer(linger_ms=60000)   # queued records stay queued at fork()
    queued = producer.send(topic, b"queued-in-parent")

    def child():
        out = {}
        for name, call in (("send", lambda: producer.send(topic, b"child")),
                           ("flush", lambda: producer.flush(5)),
                           ("partitions_for", lambda: producer.partitions_for(topic))):
            try:
                call()
                out[name] = "returned"
            except Exception as exc:
                out[name] = str(exc)
        out["inherited"] = str(queued.exception(0))
        producer.close(5)
        out["closed"] = producer.closed
        return out

    out = _in_child(child)
    assert "created in a parent process before fork()" in out["send"]
    assert "kprod.fork.reinitialize" in out["flush"]
    assert "fork()" in out["partitions_for"]
    assert "queued before fork() in the parent" in out["inherited"]
    assert out["closed"] is True
    # The parent is untouched: its queued record is still sent.
    producer.flush(GET_TIMEOUT)
    assert queued.get(0).offset == 0
    assert [m.value for m in read_all(bootstrap, topic, 1)] == [b"queued-in-parent"]


def test_opt_in_child_starts_afresh_with_its_own_producer_id(make_topic, make_producer,
                                                             bootstrap):
    topic = make_topic()
    producer = make_producer({"kprod.fork.reinitialize": True, "linger.ms": 60000})
    producer.send(topic, b"parent-1")
    producer.flush(GET_TIMEOUT)
    parent_pid = producer._idempotence.producer_id
    queued = producer.send(topic, b"parent-queued")   # lingers: inherited by the child

    def child():
        future = producer.send(topic, b"from-child")
        producer.flush(GET_TIMEOUT)
        metadata = future.get(0)
        result = {"offset": metadata.offset, "inherited": str(queued.exception(0)),
                  "producer_id": producer._idempotence.producer_id,
                  "thread_alive": producer._sender.thread.is_alive()}
        producer.close(10)
        result["closed"] = producer.closed
        return result

    out = _in_child(child)
    assert "crashed" not in out, out
    assert "queued before fork() in the parent" in out["inherited"]
    assert out["thread_alive"] and out["closed"]
    assert out["producer_id"] >= 0 and out["producer_id"] != parent_pid
    producer.flush(GET_TIMEOUT)
    assert queued.get(0).offset >= 1
    values = sorted(m.value for m in read_all(bootstrap, topic, 3))
    assert values == [b"from-child", b"parent-1", b"parent-queued"]
