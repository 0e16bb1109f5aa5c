"""asyncio front end: :class:`AsyncProducer`, the same producer for ``async`` code.

The work still happens on the producer's own I/O thread; this layer only makes
waiting awaitable and keeps the event loop free:

- ``await send(...)`` queues the record without blocking the loop and returns its
  :class:`~kprod.future.RecordFuture`, which is awaitable (``await future`` gives the
  :class:`~kprod.record.RecordMetadata` or raises the record's error) without an
  ``asyncio.Future`` per record: a pending record parks only the task that awaits it,
  and the loop is woken once per batch of completions (:mod:`kprod._internals.loop_bridge`).
  When the record cannot be queued at once (the topic's metadata is not known yet, or
  ``buffer.memory`` is full) the blocking wait, bounded by ``max.block.ms``, runs in the
  loop's default executor instead of on the loop.
- The future is the same object ``Producer.send`` returns: ``add_done_callback(fn)``
  calls ``fn(future)`` on the producer's I/O thread (keep it short and thread-safe; use
  ``await`` or :func:`gather` to continue on the loop). ``asyncio.gather`` accepts the
  futures too, but wraps each in a Task; :func:`gather` awaits them without that.
- ``flush``, ``close`` and the transaction calls wait in the executor.

Records cannot be taken back once queued (Kafka has no such thing): cancelling a task
that awaits a record only stops that task from waiting for it.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar

from kprod.bulk import BulkMetadata
from kprod.errors import BufferExhaustedError, KafkaTimeoutError
from kprod.future import RecordFuture
from kprod.producer import Producer
from kprod._native.appender import collect_results
from kprod._internals.metadata import PartitionInfo
from kprod.record import RecordMetadata

__all__ = ["AsyncProducer", "gather"]

_T = TypeVar("_T")


async def gather(futures: Sequence[RecordFuture],
                 return_exceptions: bool = False) -> List[Any]:
    """The results of ``futures`` in order (``asyncio.gather`` without a Task per
    record): each RecordMetadata, or with ``return_exceptions`` the record's error in
    its place; otherwise the first error raised."""
    if not isinstance(futures, list):
        futures = list(futures)
    results: List[Any] = []
    i, n = 0, len(futures)
    while True:
        # The done records natively; the loop stops at a pending one (in practice the
        # first record of each batch still in flight), which is awaited here.
        i = collect_results(futures, i, results, return_exceptions)
        if i == n:
            return results
        future = futures[i]
        try:
            await future
        except Exception:
            pass
        try:
            results.append(future.get(0))
        except Exception as error:
            if not return_exceptions:
                raise
            results.append(error)
        i += 1


class AsyncProducer:
    """A :class:`~kprod.producer.Producer` for asyncio. Same settings::

        async with AsyncProducer(bootstrap_servers="localhost:9092") as producer:
            metadata = await producer.send_and_wait("events", b"hello", key=b"k")
            futures = [await producer.send("events", b"v%d" % i) for i in range(1000)]
            await kprod.aio.gather(futures)      # or asyncio.gather(*futures)

    Bound to the event loop it is first used on.
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        self.producer = Producer(config, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # -- loop plumbing ---------------------------------------------------------------
    def _bind(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("This AsyncProducer is bound to another event loop; create "
                               "one AsyncProducer per loop")
        return loop

    async def _in_executor(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = self._bind()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    # -- sending -----------------------------------------------------------------------
    async def send(self, topic: Any, value: Any = None, key: Any = None,
                   partition: Optional[int] = None, timestamp: Optional[int] = None,
                   headers: Any = None) -> RecordFuture:
        """Queue one record; return its future (await it for the metadata).

        Input errors (serialization, size, closed producer) raise here, as from
        :meth:`Producer.send`; delivery errors arrive through the future."""
        # The future does not belong to a loop; only the executor fallback needs one.
        try:
            return self.producer.send(topic, value, key, partition, timestamp, headers,
                                      block=False)
        except (KafkaTimeoutError, BufferExhaustedError):
            # It would have to wait (metadata or memory): wait off the loop, bounded by
            # max.block.ms, and raise what a blocking send() would raise. In the caller's
            # context (contextvars), as on the loop: kprod.otel reads the current span.
            return await self._bind().run_in_executor(None, functools.partial(
                contextvars.copy_context().run, self.producer.send, topic, value, key,
                partition, timestamp, headers))

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

    async def close(self, timeout: Optional[float] = None) -> None:
        """Flush and stop; every future is complete when this returns."""
        await self._in_executor(self.producer.close, timeout)

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

