"""The selector's wake timer (ConnectionSelector.wake_at): a caller thread's deadline
ends the I/O thread's poll then, without a wakeup now; the next scan disarms it."""
import sys
import time

import pytest

from kprod import Producer
from kprod._internals.selector import ConnectionSelector
from kprod._native.clock import monotonic_ms

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


@linux
def test_a_deadline_ends_the_poll_then():
    selector = ConnectionSelector(monotonic_ms)
    try:
        deadline = monotonic_ms() + 30
        selector.scanning()
        assert selector.wake_at(deadline)
        selector.poll(5000.0)
        now = monotonic_ms()
        assert deadline <= now < deadline + 5000.0     # the timer, not the poll's timeout
        assert selector.wake_deadline is None           # awake: the next loop scans
    finally:
        selector.close()


@linux
def test_the_scan_disarms_it():
    selector = ConnectionSelector(monotonic_ms)
    try:
        assert selector.wake_at(monotonic_ms() + 20)
        selector.will_scan()                       # this scan sees what it was armed for
        start = monotonic_ms()
        selector.poll(150.0)
        assert monotonic_ms() >= start + 150.0     # nothing ended the poll early
    finally:
        selector.close()


def test_no_timer_with_another_clock_or_after_close():
    fake = ConnectionSelector(lambda: 1000.0)       # a test's clock: a wakeup instead
    assert fake.wake_at(1005.0) is False
    fake.close()
    real = ConnectionSelector(monotonic_ms)
    real.close()
    assert real.wake_at(monotonic_ms() + 5) is False


@linux
def test_an_idle_producer_is_not_woken_by_a_new_batch(kafka, topic):
    """Against the broker: after the warm-up the I/O thread sleeps with nothing to do;
    the next send() opens a batch and arms the timer for its linger expiry instead of
    writing to the wake-up pipe, and the record is delivered."""
    with Producer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=20) as producer:
        producer.send(topic, b"warm-up").get(30)
        selector = producer._sender.network.selector
        wakeups = []
        pipe_wakeup = selector.wakeup
        selector.wakeup = lambda: (wakeups.append(1), pipe_wakeup())
        producer._sender.network.wakeup = selector.wakeup
        producer._sender.wakeup = selector.wakeup
        deadline = monotonic_ms() + 5000
        while selector.wake_deadline is None or selector.wake_deadline - monotonic_ms() < 100:
            assert monotonic_ms() < deadline, "the I/O thread never went idle"
            time.sleep(0.005)
        metadata = producer.send(topic, b"after idle").get(30)
        assert metadata.offset >= 1 and wakeups == []
