"""Producer-level behaviour when the bootstrap server cannot be reached."""
from __future__ import annotations

import threading
import time

import pytest

from kprod.errors import KafkaTimeoutError
from kprod.producer import Producer

from .support import free_port

pytestmark = pytest.mark.timeout(60)


def _close_bounded(producer, timeout=5.0):
    t0 = time.monotonic()
    producer.close(timeout=timeout)
    assert time.monotonic() - t0 < timeout + 2
    assert producer.closed


@pytest.mark.parametrize("host", ["127.0.0.1", "no-such-host.invalid"])
def test_send_to_unreachable_bootstrap_times_out_naming_the_topic(host):
    threads_before = set(threading.enumerate())
    producer = Producer(bootstrap_servers=f"{host}:{free_port()}", max_block_ms=1500)
    try:
        t0 = time.monotonic()
        with pytest.raises(KafkaTimeoutError) as info:
            producer.send("t-unreachable", b"x")
        elapsed = time.monotonic() - t0
        assert 1.3 <= elapsed < 4.0, elapsed
        assert "t-unreachable" in str(info.value)
        assert "1500" in str(info.value)
    finally:
        _close_bounded(producer)
    time.sleep(0.2)
    leftover = [t for t in set(threading.enumerate()) - threads_before if t.is_alive()]
    assert not leftover, leftover


def test_close_right_after_failed_connects_is_prompt():
    producer = Producer(bootstrap_servers=f"127.0.0.1:{free_port()}", max_block_ms=300,
                        reconnect_backoff_ms=10, reconnect_backoff_max_ms=50)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send("t2", b"x")
        time.sleep(0.5)          # several refused reconnects happen meanwhile
    finally:
        _close_bounded(producer, timeout=2.0)
