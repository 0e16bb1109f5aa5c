"""send() refuses bad timestamps and callbacks before anything is queued or waited for
(Java: "Invalid timestamp"); no broker is needed, so none is reachable here."""
from __future__ import annotations

import time

import pytest

from kprod.errors import BulkInputError
from kprod.producer import Producer

from ..connection.support import free_port


@pytest.fixture
def producer():
    p = Producer(bootstrap_servers=f"127.0.0.1:{free_port()}", max_block_ms=10000)
    yield p
    p.close(1)


@pytest.mark.parametrize("send", [
    lambda p: p.send("t", b"v", timestamp=-5),
    lambda p: p.send("t", b"v", key=b"k", timestamp=-1),
])
def test_negative_timestamp_is_rejected_at_once(producer, send):
    t0 = time.monotonic()
    with pytest.raises(ValueError, match=r"Invalid timestamp: -\d. Timestamp should always "
                                         r"be non-negative or None"):
        send(producer)
    assert time.monotonic() - t0 < 5       # not after max.block.ms (10 s)


@pytest.mark.parametrize("timestamps", [-5, [1, -1]])
def test_negative_bulk_timestamp_is_rejected_at_once(producer, timestamps):
    t0 = time.monotonic()
    values = [b"v"] * (len(timestamps) if isinstance(timestamps, list) else 1)
    with pytest.raises(BulkInputError, match="timestamps.*negative"):
        producer.send_many("t", values, timestamps=timestamps)
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("timestamp", [1.5, "123", True])
def test_non_integer_timestamp_is_a_type_error(producer, timestamp):
    with pytest.raises(TypeError, match="timestamp"):
        producer.send("t", b"v", timestamp=timestamp)


def test_non_callable_callback_is_rejected_at_once(producer):
    with pytest.raises(TypeError, match="callback must be callable"):
        producer.send("t", b"v", callback=42)
