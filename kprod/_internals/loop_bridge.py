"""``await record_future`` in asyncio without an ``asyncio.Future`` per record sent.

A record's future is a native object completed on the producer's I/O thread. Awaiting
one that is already done costs nothing beyond the await itself. Awaiting one still
pending parks the awaiting task on a loop future. That future lives only while the
record is awaited. Per event loop, one bridge registers one done callback per *batch*
(the first time a record of it is awaited). When the batch completes, the I/O thread
queues it and wakes the loop. One ``call_soon_threadsafe`` covers every batch finished
since the last wake-up. The loop then resolves the waiters of those batches.

Each awaiting task has its own loop future, so cancelling one task (``wait_for``,
``TaskGroup``) never disturbs the others waiting for the same batch.
"""
from __future__ import annotations

import asyncio
import weakref
from collections import deque
from typing import Any, Deque, Dict, Generator, List, Optional

_bridges: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopBridge]" = \
    weakref.WeakKeyDictionary()
_last: List[Any] = [None, None]      # (loop, bridge) of the last await: one dict lookup less


class LoopBridge:
    """The waiters of one event loop, per batch result (loop thread only, except
    ``_on_done``, which the I/O thread calls)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiters: Dict[Any, List["asyncio.Future[None]"]] = {}   # batch -> futures
        self.registered: Dict[Any, Any] = {}      # record future -> the batch it watches
        self.completed: Deque[Any] = deque()      # record futures whose batch completed
        self.scheduled = False
        self._on_done_cb = self._on_done          # bound once

    def waiter(self, record_future: Any) -> Optional["asyncio.Future[None]"]:
        """A loop future resolved when the record's current batch completes; None if it
        completed meanwhile."""
        while True:
            batch = record_future._batch
            delta = record_future._delta
            while batch._split is not None:       # MESSAGE_TOO_LARGE split: the piece
                batch, delta = batch.route(delta)
            waiting = self.waiters.get(batch)
            if waiting is None:
                registered = batch.add_done_callback(self._on_done_cb, record_future)
                if registered is None:
                    continue                      # split meanwhile: route again
                if not registered:
                    return None                   # complete already
                waiting = self.waiters[batch] = []
                self.registered[record_future] = batch
            future = self.loop.create_future()
            waiting.append(future)
            return future

    def _on_done(self, record_future: Any) -> None:
        # I/O thread: queue, and wake the loop once for all that completes meanwhile.
        self.completed.append(record_future)
        if not self.scheduled:
            self.scheduled = True
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:      # the loop is closed: nobody waits any more
                self.completed.clear()

    def _drain(self) -> None:
        # Clear the flag first: a completion queued after this line schedules another
        # drain, so none is left behind.
        self.scheduled = False
        completed = self.completed
        while completed:
            batch = self.registered.pop(completed.popleft(), None)
            for future in self.waiters.pop(batch, ()):
                if not future.done():             # cancelled by its task
                    future.set_result(None)


def bridge_for(loop: asyncio.AbstractEventLoop) -> LoopBridge:
    if _last[0] is loop:
        return _last[1]
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = LoopBridge(loop)
    _last[0], _last[1] = loop, bridge
    return bridge


def await_record(record_future: Any) -> Generator[Any, None, Any]:
    """``RecordFuture.__await__``: the record's RecordMetadata, or raises its error."""
    if not record_future.done():
        bridge = bridge_for(asyncio.get_running_loop())
        while not record_future.done():
            future = bridge.waiter(record_future)
            if future is not None:
                yield from future
    return record_future.get(0)
