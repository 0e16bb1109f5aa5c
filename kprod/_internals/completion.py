"""Batch completion: one shared result per batch behind the cheap per-record futures.

A ``concurrent.futures.Future`` costs a lock and a Condition per record. Here
a record's future (:class:`RecordFuture`, native, made by the append fast
path) points at its batch's :class:`BatchResult` plus its offset delta; the
batch owns the only Event and lock, so the per-record cost on ``send()`` is
one small allocation.

A batch the broker rejects as too large (MESSAGE_TOO_LARGE) is split into
smaller batches (Java ``ProducerBatch.split``): its result then *routes* each
record to the piece now holding it (:meth:`BatchResult.split`), the record
futures follow the route (Java ``FutureRecordMetadata.chain``), and the big
batch's result completes only once every piece has (``flush()`` waits on it).
"""
from __future__ import annotations

import logging
import threading
from bisect import bisect_right
from typing import Any, Callable, Dict, List, Optional, Tuple

from kprod._native.appender import RecordFuture, run_callbacks

log = logging.getLogger("kprod.producer")


def _log_callback_error(callback: Callable[..., Any]) -> None:
    """Called by run_callbacks inside its except block: logs the traceback."""
    log.exception("Exception in user callback %r", callback)


class BatchResult:
    """The outcome of one batch, shared by the futures of all its records."""

    __slots__ = ("topic", "partition", "base_offset", "log_append_time", "error",
                 "_done", "_finished", "_event", "_lock", "_callbacks", "_split", "_parent",
                 "_pending")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.base_offset = -1
        self.log_append_time = -1
        self.error: Optional[BaseException] = None
        self._done = False          # the outcome is set (futures report it)
        self._finished = False      # ... and every callback has run (wait() returns)
        self._event: Optional[threading.Event] = None
        self._lock = threading.Lock()
        # Entries: a RecordFuture with a pending send() callback (the native append adds
        # these), or a (callback, future) done callback; see appender.run_callbacks.
        self._callbacks: Optional[List[Any]] = []
        # Once split: (first record delta of each piece, the pieces' results).
        self._split: Optional[Tuple[List[int], List["BatchResult"]]] = None
        self._parent: Optional["BatchResult"] = None   # the result this one was split from
        self._pending = 0                              # pieces not complete yet

    @property
    def done(self) -> bool:
        return self._done

    def add_done_callback(self, callback: Callable[..., Any],
                          future: "RecordFuture") -> Optional[bool]:
        """Register a done callback; False if already complete (caller runs it), None
        if this result was split meanwhile (the caller routes the future again)."""
        with self._lock:
            if self._split is not None:
                return None
            if self._done:
                return False
            self._callbacks.append((callback, future))  # type: ignore[union-attr]
            return True

    # -- split (MESSAGE_TOO_LARGE) -----------------------------------------------------
    def route(self, delta: int) -> Tuple["BatchResult", int]:
        """The piece holding this batch's record ``delta`` and its delta there."""
        starts, pieces = self._split  # type: ignore[misc]
        i = bisect_right(starts, delta) - 1
        return pieces[i], delta - starts[i]

    def split(self, starts: List[int], pieces: List["BatchResult"]) -> None:
        """The batch was split: records ``starts[i] <= delta < starts[i+1]`` now belong to
        ``pieces[i]`` (fresh, incomplete results). Called once, by the I/O thread, before
        any piece can complete. Callbacks move to the piece holding their record (they
        run when that piece completes, in record order); this result completes when the
        last piece does."""
        if len(starts) != len(pieces) or not pieces or starts[0] != 0:
            raise ValueError("split: one start delta per piece, the first at 0")
        with self._lock:
            if self._done or self._split is not None:
                raise ValueError("split: the batch is already complete or split")
            for piece in pieces:
                piece._parent = self
            self._pending = len(pieces)
            self._split = (list(starts), list(pieces))
            callbacks, self._callbacks = self._callbacks, None
        moved: Dict[int, list] = {}
        for entry in callbacks or ():
            # The future's delta here: follow its route from the batch it was made in.
            future = entry if type(entry) is RecordFuture else entry[1]
            result, delta = future._batch, future._delta
            while result is not self:
                result, delta = result.route(delta)
            moved.setdefault(bisect_right(starts, delta) - 1, []).append(entry)
        for i, entries in moved.items():
            piece = pieces[i]
            with piece._lock:     # ahead of any callback added to the piece since
                piece._callbacks[:0] = entries  # type: ignore[index]

    def _piece_done(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending > 0 or self._done:
                return
            self._done = True
            self._finished = True    # each piece ran its callbacks before telling us
            event = self._event
        if event is not None:
            event.set()
        if self._parent is not None:
            self._parent._piece_done()

    def wait(self, timeout: Optional[float]) -> bool:
        """Until the outcome is set *and* the callbacks ran (flush() relies on it)."""
        if self._finished:
            return True
        with self._lock:
            if self._finished:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def complete(self, base_offset: int, log_append_time: int = -1,
                 error: Optional[BaseException] = None) -> None:
        """Set the outcome (first call wins), run the callbacks, then wake waiters.

        Runs the callbacks on the calling (I/O) thread with no lock held. As in Java
        (ProducerBatch.completeFutureAndFireCallbacks: set, callbacks, then the latch),
        the futures report the outcome before the callbacks run, so a callback may
        read any future of the batch, while ``wait()`` (hence ``flush()``) returns only
        after the callbacks ran. A split result is completed by its pieces.
        """
        with self._lock:
            if self._done or self._split is not None:
                return
            self.base_offset = base_offset
            self.log_append_time = log_append_time
            self.error = error
            self._done = True
            callbacks, self._callbacks = self._callbacks, None
        if callbacks:
            run_callbacks(callbacks, self, error, _log_callback_error)
        with self._lock:
            self._finished = True
            event = self._event
        if event is not None:
            event.set()
        if self._parent is not None:
            self._parent._piece_done()
