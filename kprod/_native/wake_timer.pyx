# cython: language_level=3
"""A timer the I/O thread's selector watches, so a thread that queued work due at a
later time can have the sleeping I/O thread wake *then*, once, instead of waking it
now only for it to go back to sleep until then.

Why: at low rates most batches are opened while the I/O thread sleeps with no
deadline of its own (nothing queued, nothing in flight). The batch is due at its
creation time plus linger.ms; a wakeup through the pipe costs the I/O thread a whole
loop turn (scan, checks, poll) just to learn that deadline: a third turn per request
at 1,000 records/s. Arming this timer for the deadline costs the sending thread one
system call, like the pipe's write, and the I/O thread nothing until the batch is due.

Semantics:
- Linux timerfd on ``CLOCK_MONOTONIC``, absolute times in the milliseconds of
  ``kprod._native.clock.monotonic_ms`` (CPython's monotonic clock is that clock).
  Elsewhere, or if timerfd_create fails, ``available`` is False and ``arm`` returns
  False: the caller wakes the thread as before.
- ``arm(deadline_ms)``: any thread, with the GIL (which makes its check-and-set
  atomic against other callers and the I/O thread). Keeps the earliest deadline armed
  since the last ``disarm``: a later deadline never replaces an earlier one.
- ``disarm()``: the I/O thread, when it is about to scan its queues (every deadline
  armed before is then seen by the scan). Disarming also clears a timer that fired,
  so the descriptor stops being readable without a read.
- Fires a little after the deadline (``_SLACK_NS``), never before it: a batch's
  readiness test (waited >= linger.ms) must hold when the thread wakes, or it would
  sleep again for the rounding and send a millisecond late (epoll's resolution).

GIL: held throughout (each call is one short system call).
"""
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #if defined(__linux__)
    #include <sys/timerfd.h>
    #include <time.h>
    #include <unistd.h>
    static int kprod_timer_create(void) {
        return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    }
    static int kprod_timer_set(int fd, long long at_ns) {
        struct itimerspec spec = {{0, 0}, {0, 0}};
        if (at_ns > 0) {
            spec.it_value.tv_sec = (time_t)(at_ns / 1000000000LL);
            spec.it_value.tv_nsec = (long)(at_ns % 1000000000LL);
        }
        return timerfd_settime(fd, at_ns > 0 ? TFD_TIMER_ABSTIME : 0, &spec, NULL);
    }
    static int kprod_timer_close(int fd) { return close(fd); }
    #else
    static int kprod_timer_create(void) { return -1; }
    static int kprod_timer_set(int fd, long long at_ns) { (void)fd; (void)at_ns; return -1; }
    static int kprod_timer_close(int fd) { (void)fd; return -1; }
    #endif
    """
    int kprod_timer_create() nogil
    int kprod_timer_set(int fd, long long at_ns) nogil
    int kprod_timer_close(int fd) nogil

__all__ = ["WakeTimer"]

# Past the deadline by this much (1 µs): see the module docstring.
cdef int64_t _SLACK_NS = 1000
# Deadlines from here on (about 285 years of ms) are refused: in nanoseconds they would
# overflow the 64-bit time timerfd takes (a huge linger.ms).
cdef double _MAX_MS = 9e12


cdef class WakeTimer:
    """One timer descriptor; see the module docstring."""

    cdef int _fd
    cdef readonly double armed_ms        # the deadline armed, 0.0 when none

    def __cinit__(self):
        self._fd = kprod_timer_create()
        self.armed_ms = 0.0

    def __dealloc__(self):
        if self._fd >= 0:
            kprod_timer_close(self._fd)
            self._fd = -1

    @property
    def available(self) -> bool:
        return self._fd >= 0

    def fileno(self) -> int:
        """The descriptor to watch for reading (-1 when not available)."""
        return self._fd

    cpdef bint arm(self, double deadline_ms):
        """Wake the watcher by ``deadline_ms`` (monotonic_ms time) at the latest. False
        if there is no timer (closed, or not on this platform): wake it another way."""
        if self._fd < 0:
            return False
        if self.armed_ms != 0.0 and self.armed_ms <= deadline_ms:
            return True                  # an earlier deadline is armed already
        if not (0.0 < deadline_ms < _MAX_MS) or kprod_timer_set(     # NaN fails too
                self._fd, <long long>(deadline_ms * 1e6) + _SLACK_NS) != 0:
            return False
        self.armed_ms = deadline_ms
        return True

    cpdef void disarm(self):
        """No deadline armed (and a fired timer reset); cheap when none is."""
        if self.armed_ms != 0.0:
            self.armed_ms = 0.0
            if self._fd >= 0:
                kprod_timer_set(self._fd, 0)

    def close(self) -> None:
        """Release the descriptor; later arms return False."""
        if self._fd >= 0:
            kprod_timer_close(self._fd)
            self._fd = -1
        self.armed_ms = 0.0
