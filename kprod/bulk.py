"""Columnar bulk produce: ``Producer.send_many``, the call side (its
:class:`BulkFuture` and results are in :mod:`kprod.bulk_future`).

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

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from kprod._internals import columns
from kprod._native.bulk_records import (
    CHECK_BAD_PARTITION, CHECK_TOO_LARGE_MEMORY, CHECK_TOO_LARGE_REQUEST, check_records,
    record_bound,
)
from kprod._native.column_reader import Column
from kprod._native.columns import BulkAppender
from kprod.bulk_future import BulkFuture, BulkMetadata, PerRecordPlacement, RunPlacement
from kprod.errors import (
    BulkInputError, ConfigError, KafkaError, ProducerClosedError, RecordTooLargeError,
)
from kprod.serialization import serialize_or_raise

# BulkFuture and BulkMetadata are this module's public types (kprod.bulk.BulkMetadata
# in the docs); they live in kprod.bulk_future with the rest of the result side.
__all__ = ["BulkFuture", "BulkMetadata", "send_many"]


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
    placement: "PerRecordPlacement | RunPlacement"
    if all_sticky:
        segment_partitions = np.array([result.partition for result in results],
                                      dtype=np.int32)
        placement = RunPlacement(count, queued, *appender.run_arrays(), segment_partitions)
    else:
        if queued < count:
            partition_of[queued:] = -1       # never queued
        placement = PerRecordPlacement(appender.out_segment[:queued], appender.out_delta[:queued],
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
    return BulkFuture(topic, count, results, PerRecordPlacement(segment, delta, partition), stamps,
                      timestamp, len(futures), error, callback)
