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
- ``wake_deadline`` tells a thread that queued work whether the I/O thread will see
  it in time without a wakeup: None while it is awake and has not scanned its queues
  yet (``will_scan()``), 0.0 once that scan started (``scanning()``) or when it is not
  running, and while polling the clock time (ms) by which the poll returns.
"""
from __future__ import annotations

import math
import os
import selectors
from typing import Callable, Dict, Optional

from kprod._internals.connection import BrokerConnection

StateListener = Callable[[BrokerConnection], None]
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


class ConnectionSelector:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._wakeup_pending = False
        self._registered: Dict[int, int] = {}     # id(connection) -> registered fd
        self.wake_deadline: Optional[float] = None

    # -- any thread --------------------------------------------------------------------
    def wakeup(self) -> None:
        if not self._wakeup_pending:
            self._wakeup_pending = True
            try:
                os.write(self._wake_write, b"x")
            except (BlockingIOError, OSError):
                pass

    # -- I/O thread ----------------------------------------------------------------------
    def will_scan(self) -> None:
        self.wake_deadline = None

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
            try:
                self._selector.unregister(fd)
            except (KeyError, ValueError):
                pass

    def registered(self, fd: int) -> Optional[BrokerConnection]:
        """The connection whose socket ``fd`` is registered, if any."""
        try:
            return self._selector.get_key(fd).data
        except (KeyError, ValueError):
            return None

    def _sync(self, conn: BrokerConnection) -> None:
        fd = conn.sock.fileno() if conn.sock is not None else -1
        old = self._registered.get(id(conn), -1)
        if old != -1 and old != fd:
            try:
                self._selector.unregister(old)
            except (KeyError, ValueError):
                pass
            del self._registered[id(conn)]
        if fd != -1:
            events = READ | WRITE if conn.wants_write() else READ
            if old == fd:
                self._selector.modify(fd, events, conn)
            else:
                self._selector.register(fd, events, conn)
                self._registered[id(conn)] = fd

    def poll(self, timeout_ms: float) -> None:
        timeout_ms = max(timeout_ms, 0.0)
        # epoll waits whole milliseconds, rounded up: publish when this poll returns at
        # the latest (a send() may then skip its wakeup; see Sender.wakeup_new_batch).
        self.wake_deadline = self.clock() + math.ceil(timeout_ms)
        events = self._selector.select(timeout_ms / 1000.0)
        self.wake_deadline = None            # awake: the next loop scans the queues
        for key, mask in events:
            conn = key.data
            if conn is None:
                self._drain_wakeups()
                continue
            now = conn.clock()               # the producer's clock (tests may fake one)
            if mask & WRITE and conn.sock is not None:
                conn.on_writable(now)
            if mask & READ and conn.sock is not None:
                conn.on_readable(now)
            if conn.sock is not None:
                wanted = READ | WRITE if conn.wants_write() else READ
                if key.events != wanted and self._registered.get(id(conn)) == key.fd:
                    self._selector.modify(key.fd, wanted, conn)

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
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
