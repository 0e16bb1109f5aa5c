"""The native clock reads the clock time.monotonic() reads, in milliseconds: the
producer mixes the two (deadlines in seconds from callers, stamps in ms natively)."""
import time

from kprod._native.clock import monotonic_ms


def test_monotonic_ms_lies_between_two_time_monotonic_readings():
    for _ in range(1000):
        before = time.monotonic() * 1000.0
        now = monotonic_ms()
        after = time.monotonic() * 1000.0
        assert isinstance(now, float)
        # time.monotonic() rounds nanoseconds to a double of seconds: allow 1 µs
        assert before - 0.001 <= now <= after + 0.001


def test_monotonic_ms_never_goes_back():
    readings = [monotonic_ms() for _ in range(10_000)]
    assert all(b >= a for a, b in zip(readings, readings[1:]))
