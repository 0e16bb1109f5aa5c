"""Cheap per-record futures backed by one shared result per batch.

A ``concurrent.futures.Future`` costs a lock and a Condition per record. Here
a record's future (:class:`RecordFuture`, native, made by the append fast
path) points at its batch's :class:`BatchResult` plus its offset delta; the
batch owns the only Event and lock, so the per-record cost on ``send()`` is
one small allocation.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, List, Optional, Tuple

from kprod._native.appender import RecordFuture

log = logging.getLogger("kprod.producer")

# Callback styles kept in a batch's list: a send() callback(metadata, exception)
# or a future's done callback(future).
_SEND_CALLBACK = 0
_DONE_CALLBACK = 1


class BatchResult:
    """The outcome of one batch, shared by the futures of all its records."""

    __slots__ = ("topic", "partition", "base_offset", "log_append_time", "error",
                 "_done", "_event", "_lock", "_callbacks")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.base_offset = -1
        self.log_append_time = -1
        self.error: Optional[BaseException] = None
        self._done = False
        self._event: Optional[threading.Event] = None
        self._lock = threading.Lock()
        self._callbacks: Optional[List[Tuple[int, Callable[..., Any], "RecordFuture"]]] = []

    @property
    def done(self) -> bool:
        return self._done

    def add_send_callback(self, callback: Callable[..., Any], future: "RecordFuture") -> None:
        """Register a send() callback. Caller guarantees the batch is still open."""
        self._callbacks.append((_SEND_CALLBACK, callback, future))  # type: ignore[union-attr]

    def add_done_callback(self, callback: Callable[..., Any], future: "RecordFuture") -> bool:
        """Register a done callback; False if already complete (caller runs it)."""
        with self._lock:
            if self._done:
                return False
            self._callbacks.append((_DONE_CALLBACK, callback, future))  # type: ignore
            return True

    def wait(self, timeout: Optional[float]) -> bool:
        if self._done:
            return True
        with self._lock:
            if self._done:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def complete(self, base_offset: int, log_append_time: int = -1,
                 error: Optional[BaseException] = None) -> None:
        """Set the outcome (first call wins), wake waiters, then run callbacks.

        Runs the callbacks on the calling (I/O) thread with no lock held.
        """
        with self._lock:
            if self._done:
                return
            self.base_offset = base_offset
            self.log_append_time = log_append_time
            self.error = error
            self._done = True
            callbacks, self._callbacks = self._callbacks, None
            event = self._event
        if event is not None:
            event.set()
        for kind, callback, future in callbacks or ():
            try:
                if kind == _SEND_CALLBACK:
                    if error is None:
                        callback(future.metadata(), None)
                    else:
                        callback(None, error)
                else:
                    callback(future)
            except Exception:  # a user's callback must not stop the I/O thread
                log.exception("Exception in user callback %r", callback)
