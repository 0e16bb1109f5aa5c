"""The I/O thread's wake timer (kprod._native.wake_timer): a deadline armed from any
thread makes the selector's poll return then, not before; the earliest deadline wins;
disarming clears it, fired or not."""
import select
import sys
import threading

import pytest

from kprod._native.clock import monotonic_ms
from kprod._native.wake_timer import WakeTimer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="timerfd is Linux's")


@pytest.fixture
def timer():
    t = WakeTimer()
    assert t.available and t.fileno() >= 0
    poller = select.epoll()
    poller.register(t.fileno(), select.EPOLLIN)
    yield t, poller
    poller.close()
    t.close()


def test_the_poll_returns_at_the_deadline_not_before(timer):
    t, poller = timer
    deadline = monotonic_ms() + 30
    assert t.arm(deadline) and t.armed_ms == deadline
    assert poller.poll(5.0) == [(t.fileno(), select.EPOLLIN)]
    assert monotonic_ms() >= deadline


def test_the_earliest_deadline_is_kept(timer):
    t, poller = timer
    now = monotonic_ms()
    assert t.arm(now + 10_000)
    assert t.arm(now + 20)                   # earlier: replaces it
    assert t.arm(now + 5_000)                # later: the earlier stays armed
    assert t.armed_ms == now + 20
    assert poller.poll(5.0)
    assert monotonic_ms() >= now + 20


def test_disarm_clears_a_fired_timer_and_a_pending_one(timer):
    t, poller = timer
    assert t.arm(monotonic_ms() + 1)
    assert poller.poll(5.0)
    assert poller.poll(0) != []             # level-triggered: stays readable
    t.disarm()
    assert poller.poll(0) == [] and t.armed_ms == 0.0
    assert t.arm(monotonic_ms() + 20)
    t.disarm()
    assert poller.poll(0.1) == []           # never fires
    t.disarm()                              # nothing armed: no effect


def test_another_thread_arms_the_timer_of_a_sleeping_poll(timer):
    t, poller = timer
    deadline = monotonic_ms() + 40
    arming = threading.Timer(0.01, t.arm, args=(deadline,))
    arming.start()
    events = poller.poll(5.0)
    arming.join()
    assert events == [(t.fileno(), select.EPOLLIN)]
    assert monotonic_ms() >= deadline


def test_a_closed_timer_refuses(timer):
    t, _ = timer
    t.close()
    assert not t.available and t.fileno() == -1
    assert t.arm(monotonic_ms() + 10) is False
    t.disarm()


def test_a_deadline_it_cannot_hold_is_refused(timer):
    """Zero or less, NaN, infinity, or past what 64-bit nanoseconds hold (a huge
    linger.ms): refused, so the caller wakes the thread instead."""
    t, _ = timer
    for deadline in (0.0, -5.0, float("nan"), float("inf"), 1e13):
        assert t.arm(deadline) is False and t.armed_ms == 0.0
