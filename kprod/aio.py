"""asyncio front end: :class:`AsyncProducer`, the same producer for ``async`` code.

The work still happens on the producer's own I/O thread; this layer only makes
waiting awaitable and keeps the event loop free:

- ``await send(...)`` queues the record without blocking the loop and returns an
  ``asyncio.Future`` of its :class:`~kprod.record.RecordMetadata` (aiokafka's
  shape). When the record cannot be queued at once (the topic's metadata is not
  known yet, or ``buffer.memory`` is full) the blocking wait, bounded by
  ``max.block.ms``, runs in the loop's default executor instead of on the loop.
- Completions are tracked per record batch, not per record: the I/O thread runs
  one callback per completed batch, and one ``call_soon_threadsafe`` wakes the
  loop for every batch that completed since the last wake-up; the loop then
  resolves the batch's futures.
- ``flush``, ``close`` and the transaction calls wait in the executor.

Cancelling a send's future does not unsend the record (Kafka has no such
thing); it only stops the caller from waiting for it.
"""
from __future__ import annotations

import asyncio
import functools
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Tuple

from kprod.bulk import BulkMetadata
from kprod.errors import BufferExhaustedError, KafkaTimeoutError
from kprod.producer import Producer
from kprod._internals.metadata import PartitionInfo
from kprod.record import RecordMetadata

__all__ = ["AsyncProducer"]

class AsyncProducer:
    """A :class:`~kprod.producer.Producer` for asyncio. Same settings::

        async with AsyncProducer(bootstrap_servers="localhost:9092") as producer:
            metadata = await producer.send_and_wait("events", b"hello", key=b"k")
            futures = [await producer.send("events", b"v%d" % i) for i in range(1000)]
            await asyncio.gather(*futures)

    Bound to the event loop it is first used on.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        self.producer = Producer(config, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # Per batch (its shared result), the loop's futures of the records in it: one
        # callback per batch on the I/O thread instead of one per record.
        self._groups: Dict[Any, List[Tuple["asyncio.Future[RecordMetadata]", Any]]] = {}
        self._completed: Deque[Any] = deque()    # batch results done, not yet drained
        self._drain_scheduled = False
        self._batch_done_cb = self._on_batch_done    # bound once: no per-batch allocation

    # -- loop plumbing ---------------------------------------------------------------
    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("This AsyncProducer is bound to another event loop; create "
                               "one AsyncProducer per loop")
        return loop

    def _track(self, loop: asyncio.AbstractEventLoop, record_future: Any
               ) -> "asyncio.Future[RecordMetadata]":
        """The loop's future for a queued record (loop thread)."""
        future: asyncio.Future[RecordMetadata] = loop.create_future()
        batch = record_future._batch
        group = self._groups.get(batch)
        if group is None:
            group = self._groups[batch] = []
            registered = batch.add_done_callback(self._batch_done_cb, record_future)
            if registered is None:         # split meanwhile: follow this record alone
                del self._groups[batch]
                self._follow_alone(future, record_future)
                return future
            if not registered:             # already complete
                self._on_batch_done(record_future)
        group.append((future, record_future))
        return future

    def _on_batch_done(self, record_future: Any) -> None:
        # I/O thread (or now, if already done): queue the batch, wake the loop once.
        self._completed.append(record_future._batch)
        self._wake()

    def _follow_alone(self, future: "asyncio.Future[RecordMetadata]",
                      record_future: Any) -> None:
        """A record of a split batch: its own done callback instead of its batch's."""
        record_future.add_done_callback(functools.partial(self._on_record_done, future))

    def _on_record_done(self, future: "asyncio.Future[RecordMetadata]",
                        record_future: Any) -> None:
        self._completed.append((future, record_future))
        self._wake()

    def _wake(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            try:
                self._loop.call_soon_threadsafe(self._drain)  # type: ignore[union-attr]
            except RuntimeError:     # the loop is closed: nobody is waiting any more
                self._completed.clear()

    def _drain(self) -> None:
        # Clear the flag before taking: a completion queued after this line schedules
        # another drain, so none is left behind.
        self._drain_scheduled = False
        completed = self._completed
        while completed:
            item = completed.popleft()
            if type(item) is tuple:        # a lone record (split batch)
                _resolve(*item)
                continue
            for future, record_future in self._groups.pop(item, ()):
                if record_future.done():
                    _resolve(future, record_future)
                else:
                    # Its batch was split (MESSAGE_TOO_LARGE) and its piece is still
                    # pending: follow this record alone.
                    self._follow_alone(future, record_future)

    async def _in_executor(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = self._bind()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    # -- sending -----------------------------------------------------------------------
    async def send(self, topic: Any, value: Any = None, key: Any = None,
                   partition: Optional[int] = None, timestamp: Optional[int] = None,
                   headers: Any = None) -> "asyncio.Future[RecordMetadata]":
        """Queue one record; return a future of its metadata (await it for the ack).

        Input errors (serialization, size, closed producer) raise here, as from
        :meth:`Producer.send`; delivery errors arrive through the future."""
        loop = self._loop
        if loop is None or loop is not asyncio.get_running_loop():
            loop = self._bind()
        try:
            record_future = self.producer.send(topic, value, key, partition, timestamp,
                                               headers, block=False)
        except (KafkaTimeoutError, BufferExhaustedError):
            # It would have to wait (metadata or memory): wait off the loop, bounded by
            # max.block.ms, and raise what a blocking send() would raise.
            record_future = await loop.run_in_executor(None, functools.partial(
                self.producer.send, topic, value, key, partition, timestamp, headers))
        return self._track(loop, record_future)

    async def send_and_wait(self, topic: Any, value: Any = None, key: Any = None,
                            partition: Optional[int] = None, timestamp: Optional[int] = None,
                            headers: Any = None) -> RecordMetadata:
        """Send one record and wait for its acknowledgement."""
        return await (await self.send(topic, value, key, partition, timestamp, headers))

    async def send_many(self, topic: str, values: Any, *, keys: Any = None,
                        partitions: Any = None, timestamps: Any = None, headers: Any = None,
                        callback: Optional[Callable[[Any, Optional[BaseException]], Any]]
                        = None) -> "asyncio.Future[BulkMetadata]":
        """:meth:`Producer.send_many` (one native call for all the records, run in the
        executor because it may wait for metadata or memory); returns an asyncio future
        of the call's :class:`~kprod.bulk.BulkMetadata`. Bad input raises here."""
        loop = self._bind()
        bulk = await self._in_executor(self.producer.send_many, topic, values, keys=keys,
                                       partitions=partitions, timestamps=timestamps,
                                       headers=headers, callback=callback)
        future: asyncio.Future[BulkMetadata] = loop.create_future()

        def done(bulk_future: Any) -> None:   # the I/O thread, or now
            try:
                loop.call_soon_threadsafe(_resolve_bulk, future, bulk_future)
            except RuntimeError:     # the loop is closed: nobody is waiting any more
                pass

        bulk.add_done_callback(done)
        return future

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        """For aiokafka users: the producer is ready on construction; binds the loop."""
        self._bind()

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Send everything queued and wait; the futures are resolved when it returns."""
        await self._in_executor(self.producer.flush, timeout)
        self._drain()     # flush() returns after the batch callbacks queued their batches

    async def close(self, timeout: Optional[float] = None) -> None:
        """Flush and stop; every future is complete when this returns."""
        await self._in_executor(self.producer.close, timeout)
        self._drain()

    stop = close   # aiokafka's name

    async def __aenter__(self) -> "AsyncProducer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def partitions_for(self, topic: str) -> List[PartitionInfo]:
        return await self._in_executor(self.producer.partitions_for, topic)

    def metrics(self) -> Dict[str, float]:
        return self.producer.metrics()

    # -- transactions ------------------------------------------------------------------
    async def init_transactions(self, timeout: Optional[float] = None) -> None:
        await self._in_executor(self.producer.init_transactions, timeout)

    def begin_transaction(self) -> None:
        self.producer.begin_transaction()

    async def send_offsets_to_transaction(self, offsets: Any, group_metadata: Any,
                                          timeout: Optional[float] = None) -> None:
        await self._in_executor(self.producer.send_offsets_to_transaction, offsets,
                                group_metadata, timeout)

    async def commit_transaction(self, timeout: Optional[float] = None) -> None:
        await self._in_executor(self.producer.commit_transaction, timeout)

    async def abort_transaction(self, timeout: Optional[float] = None) -> None:
        await self._in_executor(self.producer.abort_transaction, timeout)


def _resolve_bulk(future: "asyncio.Future[BulkMetadata]", bulk_future: Any) -> None:
    if not future.done():                  # not cancelled by the caller
        future.set_result(bulk_future.get(0))


def _resolve(future: "asyncio.Future[RecordMetadata]", record_future: Any) -> None:
    if future.done():                      # cancelled by the caller
        return
    exception = record_future.exception()
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(record_future.metadata())
