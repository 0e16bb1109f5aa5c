"""The I/O thread's selector: every broker connection's socket plus a wake-up pipe
(the part of Java's ``Selector`` a non-blocking Python client needs).

Semantics:
- ``watch(conn)`` makes the selector follow the connection: the connection calls back
  on every state change, and its socket is (re)registered by file descriptor, for
  reading always and for writing while it has output (or a connect/TLS step pending).
- ``wakeup()`` may be called from any thread. It is latched: at most one byte is in the
  pipe at a time, so a burst of send() calls costs one write.
- ``poll(timeout_ms)`` runs on the I/O thread only: waits for readiness, lets each
  ready connection read/write, drains the pipe.
- The poller is ``select.epoll`` (``select.poll`` where there is none) used by file
  descriptor: ``selectors`` would add a key object, a tuple and a Python-level
  mapping lookup per event, and this runs twice per request.
- ``wake_deadline`` tells a thread that queued work whether the I/O thread will see
  it in time without a wakeup: None while it is awake and has not scanned its queues
  yet (``will_scan()``), 0.0 once that scan started (``scanning()``) or when it is not
  running, and while polling the clock time (ms) by which the poll returns.
- ``wake_at(deadline_ms)`` may be called from any thread (with the GIL): the poll
  returns by then, through a timer the poller watches (``_native/wake_timer.pyx``),
  without waking the thread now. False where there is no such timer (not Linux, or a
  clock other than ``monotonic_ms``): then call ``wakeup()``. ``will_scan()`` disarms
  it, since the scan that follows sees whatever the deadline was for.
"""
from __future__ import annotations

import math
import os
import select
from typing import Callable, Dict, Optional

from kprod._internals.connection import BrokerConnection
from kprod._native.clock import monotonic_ms
from kprod._native.wake_timer import WakeTimer

StateListener = Callable[[BrokerConnection], None]
_EPOLL = hasattr(select, "epoll")
READ = select.EPOLLIN if _EPOLL else select.POLLIN
WRITE = select.EPOLLOUT if _EPOLL else select.POLLOUT
# An error or hang-up: the socket's next read or write reports it (selectors treats
# it as both readable and writable, as does this).
_FAILED = (select.EPOLLERR | select.EPOLLHUP) if _EPOLL else (select.POLLERR | select.POLLHUP)
_READABLE = READ | _FAILED
_WRITABLE = WRITE | _FAILED


class ConnectionSelector:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._poller = select.epoll() if _EPOLL else select.poll()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poller.register(self._wake_read, READ)
        self._wakeup_pending = False
        self._registered: Dict[int, int] = {}     # id(connection) -> registered fd
        self._by_fd: Dict[int, BrokerConnection] = {}      # registered fd -> connection
        self._events: Dict[int, int] = {}                  # registered fd -> event mask
        self.wake_deadline: Optional[float] = None
        # The timer counts in monotonic_ms's clock: with another (a test's), none.
        timer: Optional[WakeTimer] = WakeTimer() if clock is monotonic_ms else None
        if timer is not None and not timer.available:
            timer = None
        if timer is not None:
            self._poller.register(timer.fileno(), READ)
        self._timer = timer
        self._disarm = timer.disarm if timer is not None else _nothing

    # -- any thread --------------------------------------------------------------------
    def wakeup(self) -> None:
        if not self._wakeup_pending:
            self._wakeup_pending = True
            try:
                os.write(self._wake_write, b"x")
            except (BlockingIOError, OSError):
                pass

    def wake_at(self, deadline_ms: float) -> bool:
        timer = self._timer
        return timer is not None and timer.arm(deadline_ms)

    # -- I/O thread ----------------------------------------------------------------------
    def will_scan(self) -> None:
        self.wake_deadline = None
        self._disarm()

    def scanning(self) -> None:
        self.wake_deadline = 0.0

    def watch(self, conn: BrokerConnection, listener: Optional[StateListener] = None) -> None:
        """Follow ``conn``'s socket; ``listener(conn)`` runs after each state change."""
        def on_state_change(changed: BrokerConnection) -> None:
            self._sync(changed)
            if listener is not None:
                listener(changed)
        conn.on_state_change = on_state_change

    def forget(self, conn: BrokerConnection) -> None:
        conn.on_state_change = None
        fd = self._registered.pop(id(conn), -1)
        if fd != -1:
            self._unregister(fd)

    def registered(self, fd: int) -> Optional[BrokerConnection]:
        """The connection whose socket ``fd`` is registered, if any."""
        return self._by_fd.get(fd)

    def _unregister(self, fd: int) -> None:
        self._by_fd.pop(fd, None)
        self._events.pop(fd, None)
        try:
            self._poller.unregister(fd)
        except (KeyError, ValueError, OSError):
            pass        # closed already: the kernel dropped it from the epoll set

    def _sync(self, conn: BrokerConnection) -> None:
        fd = conn.sock.fileno() if conn.sock is not None else -1
        old = self._registered.get(id(conn), -1)
        if old != -1 and old != fd:
            # A closed socket's fd may be reused by another connection's new socket,
            # registered meanwhile: only drop the entry if it is still this one's.
            if self._by_fd.get(old) is conn:
                self._unregister(old)
            del self._registered[id(conn)]
        if fd != -1:
            events = READ | WRITE if conn.wants_write() else READ
            if old == fd:
                self._set_events(fd, events)
            else:
                if fd in self._by_fd:       # a stale entry of a reused fd
                    self._unregister(fd)
                self._poller.register(fd, events)
                self._by_fd[fd] = conn
                self._events[fd] = events
                self._registered[id(conn)] = fd

    def _set_events(self, fd: int, events: int) -> None:
        if self._events.get(fd) != events:
            self._poller.modify(fd, events)
            self._events[fd] = events

    def poll(self, timeout_ms: float) -> None:
        timeout_ms = max(timeout_ms, 0.0)
        # epoll waits whole milliseconds, rounded up: publish when this poll returns at
        # the latest (a send() may then skip its wakeup; see Sender.wakeup_new_batch).
        self.wake_deadline = self.clock() + math.ceil(timeout_ms)
        try:
            # epoll takes seconds, poll milliseconds; both round up to whole ms.
            events = self._poller.poll(timeout_ms / 1000.0 if _EPOLL else math.ceil(timeout_ms))
        except InterruptedError:
            events = []
        self.wake_deadline = None            # awake: the next loop scans the queues
        by_fd = self._by_fd
        for fd, mask in events:
            conn = by_fd.get(fd)
            if conn is None:
                if fd == self._wake_read:
                    self._drain_wakeups()
                continue    # the timer (will_scan resets it), or closed by an earlier event
            now = conn.clock()               # the producer's clock (tests may fake one)
            if mask & _WRITABLE and conn.sock is not None:
                conn.on_writable(now)
            if mask & _READABLE and conn.sock is not None:
                conn.on_readable(now)
            if conn.sock is not None and by_fd.get(fd) is conn:
                self._set_events(fd, READ | WRITE if conn.wants_write() else READ)

    def _drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_read, 4096):
                pass
        except BlockingIOError:
            pass
        # Clear the latch only after draining: cleared first, a wakeup() landing between
        # the two would leave it set with its byte already consumed, and every later
        # wakeup() would be skipped (the loop would then only run on its poll timeout).
        self._wakeup_pending = False

    def close(self) -> None:
        self.wake_deadline = 0.0
        self._wakeup_pending = True     # never write to the closed pipe's (reused) fd
        close = getattr(self._poller, "close", None)   # poll objects hold no fd
        if close is not None:
            close()
        os.close(self._wake_read)
        os.close(self._wake_write)
        if self._timer is not None:
            self._timer.close()


def _nothing() -> None:
    pass
