# cython: language_level=3
"""The producer's clock: milliseconds, as a float, of the clock ``time.monotonic()``
reads (CPython's monotonic clock, so values from the two mix).

Native because the I/O thread reads it about a dozen times per Produce request, and
each call of a Python function costs a frame on a thread whose caches are cold.

GIL: not needed (CPython's raw clock read touches no Python object).
"""
from cpython.time cimport PyTime_MonotonicRaw

__all__ = ["monotonic_ms"]


def monotonic_ms() -> float:
    """``time.monotonic() * 1000.0``, without a Python frame."""
    return PyTime_MonotonicRaw() / 1e6
