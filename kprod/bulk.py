"""Columnar bulk produce: ``Producer.send_many`` and its :class:`BulkFuture`.

``send_many(topic, values, *, keys=None, partitions=None, timestamps=None,
headers=None, callback=None)`` queues every record of the columns (see
:mod:`kprod._internals.columns` for what a column may be) with exactly the
semantics of calling ``send()`` once per record, in order: the same partition
choice (explicit, custom partitioner, murmur2 of the key, KIP-794 sticky), the
same size limits, ``buffer.memory`` back-pressure bounded by ``max.block.ms``,
idempotence and transactions. The loop runs natively (kprod._native.columns),
without the GIL while it copies from numpy or Arrow buffers.

Bad input raises :class:`~kprod.errors.BulkInputError` (or RecordTooLargeError /
KafkaError for a bad partition, as send() would) naming the argument and the first
bad record, before any record of the call is queued. Non-contiguous numpy arrays
are copied, not refused.

If the call cannot queue every record (memory not free within max.block.ms, the
producer closed meanwhile), the records before the first one it could not queue
stay queued, and that record and all after it complete with the error: the
future's ``errors`` has them all, nothing is dropped silently.

One :class:`BulkFuture` for the whole call: no Python object per record on the way
in or out. It completes when every batch holding one of its records has; its
:class:`BulkMetadata` has numpy arrays in input order.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from kprod._internals import columns
from kprod._native.column_reader import Column
from kprod._native.bulk_records import (
    CHECK_BAD_PARTITION, CHECK_TOO_LARGE_MEMORY, CHECK_TOO_LARGE_REQUEST, check_records,
    record_bound, resolve_records,
)
from kprod._native.columns import BulkAppender
from kprod.errors import (
    BulkInputError, ConfigError, KafkaError, KafkaTimeoutError, ProducerClosedError,
    RecordTooLargeError,
)
from kprod.serialization import serialize_or_raise

log = logging.getLogger("kprod.producer")

__all__ = ["BulkFuture", "BulkMetadata", "send_many"]


class BulkMetadata:
    """The outcome of one send_many() call, in input order: ``topic``, ``partitions``
    (int32, each record's partition, -1: never queued), ``offsets`` (int64, -1 for
    records that failed), ``timestamps`` (int64 ms: the create time, or the broker's
    LogAppendTime) and ``errors`` ((index, error) of each failed record, empty on
    success). Unpacks as that 5-tuple.

    When every record succeeded, ``offsets`` and ``timestamps`` are built on first use
    (one native pass over the call's records, thread-safe), so a callback that reads
    only ``errors`` costs no memory per record on the I/O thread; so are
    ``partitions`` when the call kept no per-record placement (every record sticky)."""

    __slots__ = ("topic", "errors", "_partitions", "_count", "_offsets", "_timestamps",
                 "_resolve", "_lock")

    def __init__(self, topic: str,
                 partitions: "np.ndarray | Callable[[], np.ndarray]",
                 offsets: Optional[np.ndarray] = None,
                 timestamps: Optional[np.ndarray] = None,
                 errors: Optional[List[Tuple[int, BaseException]]] = None, *,
                 resolve: Optional[Callable[[], Tuple[np.ndarray, np.ndarray]]] = None,
                 count: Optional[int] = None) -> None:
        if (offsets is None or timestamps is None) and resolve is None:
            raise ValueError("BulkMetadata needs offsets and timestamps, or resolve")
        if callable(partitions) and count is None:
            raise ValueError("BulkMetadata needs the count with partitions built later")
        self.topic = topic
        self._partitions = partitions
        self._count: int = len(partitions) if not callable(partitions) else count or 0
        self.errors: List[Tuple[int, BaseException]] = errors if errors is not None else []
        self._offsets = offsets
        self._timestamps = timestamps
        self._resolve = resolve if offsets is None or timestamps is None else None
        self._lock = threading.Lock()

    def _resolved(self) -> Tuple[np.ndarray, np.ndarray]:
        offsets, timestamps = self._offsets, self._timestamps
        if offsets is None or timestamps is None:
            with self._lock:
                if self._resolve is not None:
                    self._offsets, self._timestamps = self._resolve()
                    self._resolve = None
                offsets, timestamps = self._offsets, self._timestamps
        assert offsets is not None and timestamps is not None
        return offsets, timestamps

    @property
    def partitions(self) -> np.ndarray:
        partitions = self._partitions
        if callable(partitions):
            with self._lock:
                if callable(self._partitions):
                    self._partitions = self._partitions()
                partitions = self._partitions
        assert isinstance(partitions, np.ndarray)
        return partitions

    @property
    def offsets(self) -> np.ndarray:
        return self._resolved()[0]

    @property
    def timestamps(self) -> np.ndarray:
        return self._resolved()[1]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Any]:
        offsets, timestamps = self._resolved()
        return iter((self.topic, self.partitions, offsets, timestamps, self.errors))

    def __repr__(self) -> str:
        return (f"BulkMetadata(topic={self.topic!r}, records={len(self)}, "
                f"errors={len(self.errors)})")


class _PerRecord:
    """Where each record of a call went: its segment and offset delta (the queued
    records) and its partition (every record, -1: never queued)."""

    def __init__(self, segment: np.ndarray, delta: np.ndarray, partitions: np.ndarray
                 ) -> None:
        self._segment, self._delta, self._partitions = segment, delta, partitions

    def segment_delta(self) -> Tuple[np.ndarray, np.ndarray]:
        return self._segment, self._delta

    def partitions(self) -> np.ndarray:
        return self._partitions


class _Runs:
    """The same for a call whose records were all sticky (BulkAppender.run_arrays):
    runs of consecutive records at consecutive deltas in one segment, so the
    per-record arrays are built only when something reads them."""

    def __init__(self, count: int, queued: int, first: np.ndarray, segment: np.ndarray,
                 delta: np.ndarray, segment_partitions: np.ndarray) -> None:
        self._count, self._queued = count, queued
        self._first, self._segment, self._delta = first, segment, delta
        self._segment_partitions = segment_partitions

    def _lengths(self) -> np.ndarray:
        return np.diff(self._first, append=self._queued)

    def segment_delta(self) -> Tuple[np.ndarray, np.ndarray]:
        lengths = self._lengths()
        segment = np.repeat(self._segment, lengths).astype(np.int32, copy=False)
        # record i of run r: delta[r] + (i - first[r])
        delta = np.arange(self._queued, dtype=np.int64)
        delta -= np.repeat(self._first - self._delta, lengths)
        return segment, delta.astype(np.int32)

    def partitions(self) -> np.ndarray:
        out = np.full(self._count, -1, dtype=np.int32)
        out[:self._queued] = np.repeat(self._segment_partitions[self._segment],
                                       self._lengths())
        return out


class _Marker:
    """The entry a BatchResult's done-callback list holds for a bulk call: it looks
    like a record future (``_batch``, ``_delta``) so a split batch routes it."""

    __slots__ = ("_batch", "_delta", "segment")

    def __init__(self, result: Any, delta: int, segment: int) -> None:
        self._batch = result
        self._delta = delta
        self.segment = segment


def _pending_leaf(result: Any) -> Any:
    """A result whose completion we still wait for (a batch, or one piece of a batch
    split after MESSAGE_TOO_LARGE), or None when the batch's outcome is all known."""
    if result._done:
        return None
    split = result._split
    if split is None:
        return result
    for piece in split[1]:
        leaf = _pending_leaf(piece)
        if leaf is not None:
            return leaf
    return None


class BulkFuture:
    """The future of a send_many() call: ``done()``, ``get(timeout)`` ->
    :class:`BulkMetadata`, ``add_done_callback(fn)`` (``fn(bulk_future)``)."""

    def __init__(self, topic: str, count: int, results: List[Any],
                 placement: "_PerRecord | _Runs", timestamps: np.ndarray,
                 timestamp: int, queued: int, error: Optional[BaseException],
                 callback: Optional[Callable[[Any, Optional[BaseException]], Any]]) -> None:
        self.topic = topic
        self._count = count
        self._results = results          # BatchResult per segment
        self._placement = placement
        self._timestamps = timestamps
        self._timestamp = timestamp
        self._queued = queued            # records [queued, count) failed with error
        self._error = error
        self._callback = callback
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._metadata: Optional[BulkMetadata] = None
        self._done_callbacks: List[Callable[["BulkFuture"], Any]] = []
        self._pending = len(results) + 1     # + 1 until every segment is watched
        for index in range(len(results)):
            self._watch(index)
        self._settled()

    # -- completion (the I/O thread, or the caller for what is done already) ----------
    def _watch(self, index: int) -> None:
        while True:
            leaf = _pending_leaf(self._results[index])
            if leaf is None:
                self._settled()
                return
            registered = leaf.add_done_callback(self._on_leaf, _Marker(leaf, 0, index))
            if registered:
                return
            # False: it completed meanwhile; None: it was split meanwhile. Look again.

    def _on_leaf(self, marker: _Marker) -> None:
        self._watch(marker.segment)

    def _settled(self) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending:
                return
        try:
            self._metadata = self._build()
        except BaseException as exc:   # never leave a waiter hanging
            log.exception("send_many: building the bulk metadata failed")
            self._metadata = BulkMetadata(self.topic, self._placement.partitions(),
                                          np.full(self._count, -1, np.int64),
                                          np.full(self._count, -1, np.int64),
                                          [(i, exc) for i in range(self._count)])
        metadata = self._metadata
        # Done before the callback runs (as a record future is before its send()
        # callback), so the callback may call get().
        self._event.set()
        if self._callback is not None:
            errors = metadata.errors
            try:
                self._callback(metadata, errors[0][1] if errors else None)
            except Exception:
                log.exception("Exception in send_many callback %r", self._callback)
        with self._lock:
            callbacks, self._done_callbacks = self._done_callbacks, []
        for fn in callbacks:
            try:
                fn(self)
            except Exception:
                log.exception("Exception in BulkFuture done callback %r", fn)

    def _build(self) -> BulkMetadata:
        count, placement = self._count, self._placement
        nseg = len(self._results)
        # Per segment, and a last slot for the records never queued.
        base = np.full(nseg + 1, -1, dtype=np.int64)
        append_time = np.full(nseg + 1, -1, dtype=np.int64)
        failed = np.zeros(nseg + 1, dtype=np.uint8)
        failed[nseg] = True
        errors_of: List[Optional[BaseException]] = [None] * (nseg + 1)
        errors_of[nseg] = self._error
        split_segments = []
        for s, result in enumerate(self._results):
            if result._split is not None:
                split_segments.append(s)      # resolved record by record below
                continue
            base[s] = result.base_offset
            append_time[s] = result.log_append_time
            if result.error is not None:
                failed[s] = True
                errors_of[s] = result.error
        record_timestamps, timestamp = self._timestamps, self._timestamp

        def resolve(segment: np.ndarray, delta: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray, int]:
            offsets = np.empty(count, dtype=np.int64)
            timestamps = np.empty(count, dtype=np.int64)
            failures = resolve_records(count, segment, delta, base, append_time, failed,
                                       record_timestamps, timestamp, offsets, timestamps)
            return offsets, timestamps, failures

        if not split_segments and self._queued == count and not failed[:nseg].any():
            # Every record succeeded: the per-record arrays wait for their first reader.
            return BulkMetadata(self.topic, placement.partitions, errors=[], count=count,
                                resolve=lambda: resolve(*placement.segment_delta())[:2])
        segment, delta = placement.segment_delta()
        offsets, timestamps, failures = resolve(segment, delta)
        errors: List[Tuple[int, BaseException]] = []
        if split_segments:
            # Records of split batches: each resolved through the piece now holding it.
            for i in np.nonzero(np.isin(segment, split_segments))[0]:
                result, d = self._results[segment[i]], int(delta[i])
                while result._split is not None:
                    result, d = result.route(d)
                if result.error is not None:
                    offsets[i] = -1
                    errors.append((int(i), result.error))
                else:
                    offsets[i] = result.base_offset + d if result.base_offset >= 0 else -1
                    if result.log_append_time >= 0:
                        timestamps[i] = result.log_append_time
        if failures:
            queued = segment.shape[0]
            record_segment = np.full(count, nseg, dtype=np.int64)
            record_segment[:queued] = np.where((segment >= 0) & (segment < nseg), segment,
                                               nseg)
            for i in np.nonzero(failed[record_segment])[0]:
                errors.append((int(i), errors_of[record_segment[i]]))
            errors.sort(key=lambda item: item[0])
        return BulkMetadata(self.topic, placement.partitions(), offsets, timestamps, errors)

    # -- the caller's side ----------------------------------------------------------
    def done(self) -> bool:
        return self._event.is_set()

    def cancelled(self) -> bool:
        return False

    def cancel(self) -> bool:
        """Records cannot be taken back once queued (as in Java)."""
        return False

    def get(self, timeout: Optional[float] = None) -> BulkMetadata:
        """Wait for every record's outcome; the metadata (failed records are in its
        ``errors``). KafkaTimeoutError if not all are known within ``timeout`` s."""
        if not self._event.wait(timeout):
            raise KafkaTimeoutError(f"send_many to {self.topic}: {self._count} records not "
                                    f"all acknowledged within {timeout} s (still pending; "
                                    "the producer keeps trying until delivery.timeout.ms)")
        return self._metadata   # type: ignore[return-value]

    result = get

    def add_done_callback(self, fn: Callable[["BulkFuture"], Any]) -> None:
        """Call ``fn(self)`` when done (on the I/O thread, or now if already done)."""
        with self._lock:
            if not self._event.is_set():
                self._done_callbacks.append(fn)
                return
        fn(self)

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        state = "done" if self.done() else "pending"
        return f"<BulkFuture {state} {self.topic} records={self._count}>"


# ---------------------------------------------------------------------------------------

def send_many(producer: Any, topic: Any, values: Any, *, keys: Any = None,
              partitions: Any = None, timestamps: Any = None, headers: Any = None,
              callback: Any = None) -> BulkFuture:
    """Producer.send_many (see the module docstring)."""
    from kprod.producer import as_send_callback
    if callback is not None:
        callback = as_send_callback(callback)
    if producer._closed:
        raise ProducerClosedError("Cannot send: the producer is closed")
    if producer._forked:
        raise KafkaError("This producer was created in a parent process; after fork() "
                         "create a new Producer in the child")
    if not isinstance(topic, str) or not topic:
        raise ConfigError(f"Invalid topic {topic!r}: expected a non-empty str")
    txn = producer._txn
    if txn is None:
        return _send_many(producer, topic, values, keys, partitions, timestamps, headers,
                          callback)
    txn.check_send()
    try:
        return _send_many(producer, topic, values, keys, partitions, timestamps, headers,
                          callback)
    except Exception as exc:
        txn.abortable(exc)      # as send(): any record error makes the transaction abortable
        raise


def _serialized(producer: Any, serializer: Any, data: Any, argument: str, topic: str,
                count: Optional[int], headers: Any) -> Column:
    """A column through key.serializer / value.serializer, one item at a time (as
    send() serializes each record)."""
    if isinstance(data, (bytes, bytearray, memoryview, str)) or not hasattr(data, "__len__"):
        raise BulkInputError(f"send_many: {argument} must be a column of records, not one "
                             f"{type(data).__name__}", argument)
    items = data.tolist() if isinstance(data, np.ndarray) else list(data)
    if count is not None and len(items) != count:
        raise BulkInputError(f"send_many: {len(items)} {argument} for {count} values",
                             argument)
    field = argument[:-1]
    out = []
    for i, item in enumerate(items):
        record_headers = headers[i] if type(headers) is tuple else headers
        try:
            out.append(serialize_or_raise(serializer, topic, item, record_headers, field))
        except BulkInputError:
            raise
        except Exception as exc:
            raise BulkInputError(f"send_many: {argument}[{i}]: {exc}", argument, i) from exc
    return columns.read_column(out, argument, topic)


def _send_many(producer: Any, topic: str, values: Any, keys: Any, partitions: Any,
               timestamps: Any, headers: Any, callback: Any) -> BulkFuture:
    if producer._interceptors:
        return _send_each(producer, topic, values, keys, partitions, timestamps, headers,
                          callback)
    if producer._value_serializer is None:
        value_spans = columns.read_column(values, "values", topic)
        count = len(value_spans)
        header_lists, header_extra, header_extra_all = columns.read_headers(headers, count,
                                                                           topic)
    else:
        if not hasattr(values, "__len__"):
            raise BulkInputError("send_many: values must be a column of records", "values")
        count = len(values)
        header_lists, header_extra, header_extra_all = columns.read_headers(headers, count,
                                                                           topic)
        value_spans = _serialized(producer, producer._value_serializer, values, "values",
                                  topic, count, header_lists)
    if keys is None:
        key_spans = columns.null_column(count)
    elif producer._key_serializer is None:
        key_spans = columns.read_column(keys, "keys", topic)
    else:
        key_spans = _serialized(producer, producer._key_serializer, keys, "keys", topic,
                                count, header_lists)
    columns.check_length(key_spans, count, "keys")
    record_timestamps, timestamp = columns.read_timestamps(timestamps, count)
    explicit = columns.read_partitions(partitions, count)

    metadata = producer._metadata
    info = metadata.snapshot.topics.get(topic)
    if info is None or info.num_partitions == 0:
        info = metadata.wait_for_topic(topic, producer._max_block_s, producer._sender.wakeup)
    chooser = producer._partitioner
    if explicit is None and chooser.custom is not None and count:
        explicit = _custom_partitions(chooser.custom, topic, keys, values, key_spans,
                                      value_spans, info.num_partitions, metadata.snapshot,
                                      count)
    hash_keys = keys is not None and not chooser.ignore_keys
    # Every record sticky: no per-record partition, segment or delta (the appender
    # keeps runs); else the appender fills in the sticky records' partitions.
    all_sticky = explicit is None and not hash_keys
    partition_of = np.empty(0 if all_sticky else count, dtype=np.int32)
    bad, kind = check_records(
        count, key_spans, value_spans,
        explicit if explicit is not None else columns._EMPTY, explicit is not None,
        header_extra, header_extra_all, header_lists is not None,
        hash_keys, info.num_partitions, producer._max_request_size,
        producer._buffer_memory, producer._unchecked_size, partition_of)
    if bad >= 0:
        _raise_check(kind, bad, topic, info.num_partitions, explicit, key_spans, value_spans,
                     header_extra, header_extra_all, producer)

    sender = producer._sender
    txn = producer._txn

    def on_partition(tp: Tuple[str, int]) -> None:
        if txn is not None and txn.maybe_add_partition(tp):
            sender.wakeup()

    appender = BulkAppender(
        producer._accumulator, topic, info, chooser, count, key_spans, value_spans,
        partition_of,
        record_timestamps, timestamp, header_lists, header_extra, header_extra_all,
        producer._max_block_s * 1000.0, sender.wakeup_batch_full, on_partition)
    error: Optional[BaseException] = None
    try:
        appender.run()
    except Exception as exc:
        error = exc
        if txn is not None:
            txn.abortable(exc)
    queued = appender.appended
    if error is None and queued < count:     # cannot happen: run() raises or finishes
        error = KafkaError("send_many stopped before the end of its input")
    results = [batch.result for batch in appender.segments]
    placement: "_PerRecord | _Runs"
    if all_sticky:
        segment_partitions = np.array([result.partition for result in results],
                                      dtype=np.int32)
        placement = _Runs(count, queued, *appender.run_arrays(), segment_partitions)
    else:
        if queued < count:
            partition_of[queued:] = -1       # never queued
        placement = _PerRecord(appender.out_segment[:queued], appender.out_delta[:queued],
                               partition_of)
    # The spans point into these: alive until the records are copied (they are now).
    del key_spans, value_spans
    return BulkFuture(topic, count, results, placement, record_timestamps, timestamp,
                      queued, error, callback)


def _raise_check(kind: int, index: int, topic: str, num_partitions: int,
                 explicit: Optional[np.ndarray], keys: Column, values: Column,
                 header_extra: np.ndarray, header_extra_all: int, producer: Any) -> None:
    if kind == CHECK_BAD_PARTITION:
        assert explicit is not None
        raise BulkInputError(
            f"send_many: partitions[{index}] = {int(explicit[index])} is invalid for topic "
            f"'{topic}': it has {num_partitions} partition(s) (0..{num_partitions - 1})",
            "partitions", index)
    extra = int(header_extra[index]) if header_extra.shape[0] else header_extra_all
    size = record_bound(keys.length_of(index), values.length_of(index), extra)
    if kind == CHECK_TOO_LARGE_REQUEST:
        limit = ("max.request.size", producer._max_request_size)
    else:
        assert kind == CHECK_TOO_LARGE_MEMORY
        limit = ("buffer.memory", producer._buffer_memory)
    error = RecordTooLargeError(
        f"send_many: record {index} for topic '{topic}' is {size} bytes when serialized, "
        f"larger than {limit[0]} ({limit[1]})")
    error.index = index          # type: ignore[attr-defined]
    raise error


def _custom_partitions(custom: Any, topic: str, keys: Any, values: Any,
                       key_spans: Column, value_spans: Column,
                       num_partitions: int, cluster: Any, count: int) -> np.ndarray:
    """partitioner.class once per record, in order, as send() calls it."""
    key_items = key_spans.objects
    value_items = value_spans.objects
    out = np.empty(count, dtype=np.int64)
    for i in range(count):
        key_bytes = key_spans.item(i)
        value_bytes = value_spans.item(i)
        key = key_items[i] if key_items is not None else key_bytes
        value = value_items[i] if value_items is not None else value_bytes
        chosen = custom.partition(topic, key, key_bytes, value, value_bytes, cluster)
        if not isinstance(chosen, (int, np.integer)) or not 0 <= chosen < num_partitions:
            raise KafkaError(f"Partitioner returned invalid partition {chosen!r} for topic "
                             f"'{topic}' with {num_partitions} partitions (record {i})")
        out[i] = chosen
    return out


def _send_each(producer: Any, topic: str, values: Any, keys: Any, partitions: Any,
               timestamps: Any, headers: Any, callback: Any) -> BulkFuture:
    """With interceptors (which may replace each record): send() per record, the
    futures gathered into one BulkFuture."""
    value_items = _items(values, "values", None)
    count = len(value_items)
    key_items = _items(keys, "keys", count) if keys is not None else [None] * count
    record_timestamps, timestamp = columns.read_timestamps(timestamps, count)
    explicit = columns.read_partitions(partitions, count)
    header_lists, _, _ = columns.read_headers(headers, count, topic)
    futures = []
    error: Optional[BaseException] = None
    for i in range(count):
        record_headers = header_lists[i] if type(header_lists) is tuple else header_lists
        ts = int(record_timestamps[i]) if record_timestamps.shape[0] else timestamp
        try:
            futures.append(producer.send(topic, value_items[i], key_items[i],
                                         None if explicit is None else int(explicit[i]), ts,
                                         record_headers))
        except Exception as exc:
            error = exc
            break
    return _from_record_futures(topic, count, futures, record_timestamps, timestamp, error,
                                callback)


def _items(data: Any, argument: str, count: Optional[int]) -> Sequence[Any]:
    if isinstance(data, (bytes, bytearray, memoryview, str)):
        raise BulkInputError(f"send_many: {argument} must be a column of records, not one "
                             f"{type(data).__name__}", argument)
    module = type(data).__module__ or ""
    if module.startswith(("pyarrow", "polars", "pandas")) or (
            isinstance(data, np.ndarray) and data.dtype.kind != "O"):
        spans = columns.read_column(data, argument, "")
        items: Sequence[Any] = [spans.item(i) for i in range(len(spans))]
    else:
        items = data.tolist() if isinstance(data, np.ndarray) else list(data)
    if count is not None and len(items) != count:
        raise BulkInputError(f"send_many: {len(items)} {argument} for {count} values",
                             argument)
    return items


def _from_record_futures(topic: str, count: int, futures: List[Any],
                         record_timestamps: np.ndarray, timestamp: int,
                         error: Optional[BaseException], callback: Any) -> BulkFuture:
    results: List[Any] = []
    index_of: Dict[int, int] = {}
    segment = np.full(count, -1, dtype=np.int32)
    delta = np.full(count, -1, dtype=np.int32)
    partition = np.full(count, -1, dtype=np.int32)
    stamps = np.full(count, timestamp, dtype=np.int64) if not record_timestamps.shape[0] \
        else record_timestamps.copy()
    for i, future in enumerate(futures):
        result = future._batch
        s = index_of.get(id(result))
        if s is None:
            s = index_of[id(result)] = len(results)
            results.append(result)
        segment[i] = s
        delta[i] = future._delta
        partition[i] = result.partition
        stamps[i] = future._timestamp
    return BulkFuture(topic, count, results, _PerRecord(segment, delta, partition), stamps,
                      timestamp, len(futures), error, callback)
