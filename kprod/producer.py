"""Producer: the public API (Java's ``KafkaProducer`` semantics, Pythonic surface).

``send()`` runs on the caller's thread: serialize, pick the partition, append
to the partition's open batch (native), return a cheap future. Everything
network-related runs on one I/O thread (:mod:`kprod._internals.sender`);
futures complete and callbacks run there.
"""
from __future__ import annotations

import logging
import math
import operator
import os
import threading
import time
import types
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, cast

from kprod._internals import fork, plugins
from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.interceptors import SendCallback, load_interceptors
from kprod._internals.metadata import Metadata, PartitionInfo
from kprod._internals.metrics import GROUP as METRICS_GROUP, ProducerMetrics
from kprod._internals.stats import MetricConfig
from kprod._internals.sender import Sender
from kprod._internals.telemetry import ClientTelemetry, Sample
from kprod._internals.telemetry_metrics import samples
from kprod._internals.transactions import TransactionManager
from kprod._native.appender import SendPath
from kprod._native.bufferpool import BufferPool
from kprod._native.clock import monotonic_ms
from kprod._native.partition import PartitionChooser
from kprod._native.record_encoding import record_size_upper_bound
from kprod.config import ProducerConfig
from kprod.errors import (
    BufferExhaustedError, ConfigError, IllegalStateError, KafkaError, KafkaTimeoutError,
    ProducerClosedError,
    RecordTooLargeError,
    SerializationError,
)
from kprod.future import RecordFuture
from kprod.record import ProducerRecord, normalize_headers
from kprod.serialization import (
    adapt_serializer, check_bytes_like, serialize_or_raise, serializer_plugin,
)

if TYPE_CHECKING:
    from kprod.bulk import BulkFuture

log = logging.getLogger("kprod.producer")

# More than a record's batch adds to its key, value and headers bytes (the batch header,
# the record's varints; record_size_upper_bound), headers' varints counted with them.
_RECORD_BOUND_MARGIN = 128

_LEVEL_SETTING = {"gzip": "compression.gzip.level", "lz4": "compression.lz4.level",
                  "zstd": "compression.zstd.level"}

class Producer:
    """A thread-safe Kafka producer.

    ``Producer({"bootstrap.servers": "host:9092", "linger.ms": 10})`` or
    ``Producer(bootstrap_servers="host:9092", linger_ms=10)``. Settings use
    Kafka's names and the Java client's defaults (acks=all, idempotence on).
    """

    def __init__(self, config: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> None:
        self.config = cfg = ProducerConfig(config, **kwargs)
        if cfg["security.protocol"] != "PLAINTEXT":
            # Fail fast on unusable TLS/SASL settings (missing CA file, wrong key
            # password, unsupported mechanism, no credentials) before any thread starts.
            from kprod._internals.connection_settings import ConnectionSettings
            ConnectionSettings(cfg)
        # Plugins (Java's order: reporters, partitioner, serializers, interceptors); the
        # ones made here from a class get configure(); all are closed once on close().
        self._plugins: List[Any] = []
        self._plugins_closed = False
        try:
            self._set_up_plugins(cfg)
        except BaseException:
            plugins.close_all(self._plugins, log)
            raise
        self._max_block_s = cfg["max.block.ms"] / 1000.0
        self._max_request_size = cfg["max.request.size"]
        self._buffer_memory = cfg["buffer.memory"]
        # Records whose key, value and headers add up to at most this many bytes need no
        # size check: their batch's upper bound (at most 128 bytes more) fits both limits.
        self._unchecked_size = min(1024, min(self._max_request_size, self._buffer_memory)
                                   - _RECORD_BOUND_MARGIN)
        self._adaptive = cfg["partitioner.adaptive.partitioning.enable"]
        self.metrics_registry = ProducerMetrics(
            MetricConfig(cfg["metrics.sample.window.ms"], cfg["metrics.num.samples"]),
            cfg["metrics.recording.level"], self._reporters, monotonic_ms,
            memory=lambda: self._pool, client_id=cfg["client.id"])
        self._closed = False
        self._forked = False
        self._inherited_failed = False
        self._close_lock = threading.Lock()
        self._reinit_after_fork = cfg["kprod.fork.reinitialize"]
        self._instrumentation: Optional[Any] = None    # kprod.otel.instrument()
        self._start(cfg)
        fork.track(self)

    def _start(self, cfg: ProducerConfig) -> None:
        """The per-process part: buffers, accumulator, metadata, producer id, I/O thread
        and the native send path (made again in a child after fork, when asked)."""
        self._pool = BufferPool(cfg["buffer.memory"], cfg["batch.size"])
        compression = cfg["compression.type"]
        level = cfg[_LEVEL_SETTING[compression]] if compression in _LEVEL_SETTING else None
        if compression == "gzip" and level == -1:
            level = None
        self._accumulator = RecordAccumulator(
            batch_size=cfg["batch.size"], linger_ms=cfg["linger.ms"], compression=compression,
            compression_level=level, pool=self._pool,
            delivery_timeout_ms=cfg["delivery.timeout.ms"],
            retry_backoff_ms=cfg["retry.backoff.ms"],
            retry_backoff_max_ms=cfg["retry.backoff.max.ms"], clock=monotonic_ms,
            idempotent=cfg["enable.idempotence"], max_request_size=cfg["max.request.size"],
            partitioner=self._partitioner)
        self._metadata = Metadata(cfg["metadata.max.age.ms"], cfg["retry.backoff.ms"],
                                  cfg["metadata.max.idle.ms"])
        self._idempotence = IdempotenceState() if cfg["enable.idempotence"] else None
        self._txn = None
        if cfg["transactional.id"] is not None:
            self._txn = TransactionManager(cfg["transactional.id"], cfg["transaction.timeout.ms"],
                                           self._idempotence, cfg["retry.backoff.ms"],
                                           monotonic_ms)
        telemetry = None
        if cfg["enable.metrics.push"]:       # KIP-714; pushes only what a broker asks for
            telemetry = ClientTelemetry(self._telemetry_samples, cfg["retry.backoff.ms"],
                                        cfg["request.timeout.ms"])
        self._sender = Sender(cfg, self._metadata, self._accumulator, self._idempotence,
                              self.metrics_registry, monotonic_ms, self._txn,
                              telemetry=telemetry)
        self._accumulator.on_new_batch = self._sender.wakeup_new_batch
        self._metadata.failures = self._sender.network.failures   # timeouts name causes
        self._sender.settings.stats.on_creation = self.metrics_registry.record_connection
        # send() for the common case runs natively; everything else (and every error)
        # goes through the Python send below, which handles all cases.
        fast = self._send_path = SendPath()
        fast.slow = types.MethodType(Producer.send, self)
        fast.metadata = self._metadata
        fast.accumulator = self._accumulator
        fast.wakeup = self._sender.wakeup_batch_full      # called when a batch is full
        fast.partitioner = self._partitioner
        # An interceptor without on_send leaves the record alone: the native path stays
        # on, with the interceptors' on_acknowledgement chain as the default callback.
        fast.default_callback = self._interceptors.acknowledge
        fast.unchecked_size = self._unchecked_size
        fast.enabled = (self._key_serializer is None and self._value_serializer is None
                        and self._partitioner.custom is None and self._txn is None
                        and not self._interceptors.on_send)
        self.send = fast.send  # type: ignore[method-assign]
        if self._instrumentation is not None:
            self._instrumentation.attach()     # kprod.otel: the traced send() wraps it
        self._sender.start()

    def _set_up_plugins(self, cfg: ProducerConfig) -> None:
        configs = cfg.plugin_configs()
        owned = self._plugins
        self._reporters = []
        for reporter, made in plugins.resolve_list(cfg["metric.reporters"], "metric.reporters"):
            owned.append(reporter)
            missing = [m for m in ("init", "metric_change", "metric_removal")
                       if not callable(getattr(reporter, m, None))]
            if missing:
                raise ConfigError(f"Setting 'metric.reporters': {reporter!r} has no "
                                  f"{', '.join(m + '()' for m in missing)} (Java's "
                                  "MetricsReporter: init, metric_change, metric_removal, close)")
            if made:
                plugins.configure(reporter, configs, "metric.reporters")
            self._reporters.append(reporter)
        partitioner, made = plugins.resolve_partitioner(cfg["partitioner.class"])
        owned.append(partitioner)
        if made:
            plugins.configure(partitioner, configs, "partitioner.class")
        self._partitioner = PartitionChooser(cfg["batch.size"], partitioner,
                                             cfg["partitioner.ignore.keys"])
        serializers = []
        for setting, is_key in (("key.serializer", True), ("value.serializer", False)):
            serializer, made = serializer_plugin(cfg[setting], setting)
            owned.append(serializer)
            if made:
                plugins.configure(serializer, configs, setting, is_key)
            serializers.append(adapt_serializer(serializer, setting))
        self._key_serializer, self._value_serializer = serializers
        self._interceptors = load_interceptors(cfg["interceptor.classes"], configs, owned)

    # -- sending -------------------------------------------------------------------------
    def send(self, topic: Any, value: Any = None, key: Any = None, partition: Optional[int] = None,
             timestamp: Optional[int] = None, headers: Any = None,
             callback: Optional[Callable[[Any, Optional[BaseException]], Any]] = None,
             *, block: bool = True) -> RecordFuture:
        """Queue one record; return a future of its :class:`RecordMetadata`.

        ``topic`` may be a :class:`ProducerRecord` instead. ``callback(metadata,
        exception)`` runs on the producer's I/O thread when the record is acknowledged
        or fails; keep it short. With ``block=False`` the call never waits for
        metadata or buffer memory: it raises (``BufferExhaustedError``,
        ``KafkaTimeoutError``) instead. Input errors (serialization, size, a closed
        producer) are raised here, before anything is queued.
        """
        if isinstance(topic, ProducerRecord):
            # Java's send(record, callback): the second positional is the callback.
            if value is not None:
                if callback is not None:
                    raise TypeError("send(record, callback) got a callback twice (positional "
                                    "and callback=)")
                callback = value
            if key is not None or partition is not None or timestamp is not None \
                    or headers is not None:
                raise TypeError("send(record, ...) takes the record's fields from the "
                                "ProducerRecord; pass key/partition/timestamp/headers in it")
            topic, value, key, partition, timestamp, headers = topic
        if not self._interceptors:
            return self._send(topic, value, key, partition, timestamp, headers, callback,
                              block)
        try:
            return self._send(topic, value, key, partition, timestamp, headers, callback,
                              block)
        except Exception as exc:
            self._interceptors.on_send_error(topic, value, key, partition, timestamp,
                                             headers, exc)
            raise

    def _send(self, topic: Any, value: Any, key: Any, partition: Optional[int],
              timestamp: Optional[int], headers: Any, callback: Any,
              block: bool) -> RecordFuture:
        if callback is not None:
            callback = as_send_callback(callback)
        if timestamp is not None:
            if type(timestamp) is not int:
                try:
                    if isinstance(timestamp, bool):
                        raise TypeError
                    timestamp = operator.index(timestamp)   # int-like (numpy ints too)
                except TypeError:
                    raise TypeError(f"Invalid timestamp {timestamp!r}: expected an int (ms "
                                    "since the epoch) or None") from None
            if timestamp < 0:
                # Java KafkaProducer: IllegalArgumentException("Invalid timestamp: ...").
                raise ValueError(f"Invalid timestamp: {timestamp}. Timestamp should always "
                                 "be non-negative or None.")
        if self._closed:
            raise ProducerClosedError("Cannot send: the producer is closed")
        if self._forked:
            self._after_fork("send()")        # raises, or re-initialised: go on
        if self._txn is None:
            return self._append(topic, value, key, partition, timestamp, headers, callback,
                                block)
        self._txn.check_send()
        try:
            return self._append(topic, value, key, partition, timestamp, headers, callback,
                                block)
        except Exception as exc:
            # Java's doSend: any error of a record of the transaction makes the
            # transaction abortable, so a caller who catches it cannot commit a partial
            # transaction. (block=False's "would have to wait" is not a record error:
            # kprod.aio retries it off the loop.)
            if block or not isinstance(exc, (KafkaTimeoutError, BufferExhaustedError)):
                self._txn.abortable(exc)
            raise

    # -- fork ----------------------------------------------------------------------------
    def _after_fork(self, operation: str) -> None:
        """In a child process after fork(): fail the records inherited from the parent,
        then start afresh (new buffers, I/O thread, connections and producer id) when
        kprod.fork.reinitialize is set, else raise."""
        self._fail_inherited()
        if self._closed:
            raise ProducerClosedError(f"Cannot call {operation}: the producer is closed")
        if not self._reinit_after_fork:
            raise KafkaError(f"Cannot call {operation} in this process: the producer was "
                             "created in a parent process before fork(); create a new "
                             "Producer in the child, or set kprod.fork.reinitialize=true")
        if self._txn is not None:
            raise KafkaError(f"Cannot call {operation}: a transactional producer is not "
                             "re-initialised after fork() (the child's producer would fence "
                             "the parent's transactional.id); create a new Producer with its "
                             "own transactional.id in the child")
        log.info("Re-initialising the producer in child process %d after fork()",
                 os.getpid())
        self._start(self.config)
        self._forked = False

    def _fail_inherited(self) -> None:
        fork.fail_inherited(self)

    def _append(self, topic: Any, value: Any, key: Any, partition: Optional[int],
                timestamp: Optional[int], headers: Any, callback: Any,
                block: bool) -> RecordFuture:
        """send() once the record's form is resolved: serialize, partition, append."""
        interceptors = self._interceptors
        if interceptors.on_send:
            topic, value, key, partition, timestamp, headers, callback = interceptors.intercept(
                topic, value, key, partition, timestamp, headers, callback)
        elif interceptors.acknowledge is not None:
            callback = interceptors.chain(callback)
        original_key, original_value = key, value
        # Serialize (bytes pass through untouched when no serializer is set).
        if self._key_serializer is None:
            if key is not None and type(key) is not bytes:
                key = check_bytes_like(key, "key", topic)
        else:
            key = serialize_or_raise(self._key_serializer, topic, key, headers, "key")
        if self._value_serializer is None:
            if value is not None and type(value) is not bytes:
                value = check_bytes_like(value, "value", topic)
        else:
            value = serialize_or_raise(self._value_serializer, topic, value, headers, "value")
        if headers is not None:
            try:
                headers = normalize_headers(headers) or None
            except TypeError as exc:
                raise SerializationError(f"Invalid headers for topic '{topic}': {exc}") from None
        # Partition metadata (wait at most max.block.ms for an unknown topic).
        info = self._metadata.snapshot.topics.get(topic)
        if info is None or info.num_partitions == 0:
            if not isinstance(topic, str) or not topic:
                raise ConfigError(f"Invalid topic {topic!r}: expected a non-empty str")
            info = self._metadata.wait_for_topic(topic, self._max_block_s if block else 0.0,
                                                 self._sender.wakeup)
        partition, sticky = self._partitioner.choose(topic, original_key, key, original_value,
                                                     value, partition, info,
                                                     self._metadata.snapshot)
        if timestamp is None:
            timestamp = int(time.time() * 1000)
        key_size = -1 if key is None else len(key)
        value_size = -1 if value is None else len(value)
        if headers is not None or key_size + value_size > self._unchecked_size:
            # Java's ensureValidRecordSize: the record's batch must fit both limits.
            size = record_size_upper_bound(key, value, headers)
            if size > self._max_request_size or size > self._buffer_memory:
                limit = ("max.request.size", self._max_request_size) \
                    if size > self._max_request_size else ("buffer.memory", self._buffer_memory)
                raise RecordTooLargeError(
                    f"The record for topic '{topic}' is {size} bytes when serialized, larger "
                    f"than {limit[0]} ({limit[1]})")
        tp = (topic, partition)
        future: RecordFuture
        future, appended, full = self._accumulator.append(
            tp, timestamp, key, value, headers, callback,
            self._max_block_s * 1000.0 if block else 0.0, key_size, value_size)
        if full:
            self._sender.wakeup_batch_full()       # the batch is full: ready to go
        if self._txn is not None and self._txn.maybe_add_partition(tp):
            self._sender.wakeup()
        if sticky is not None:
            # The batch just appended to is the deque's last, so "all batches full"
            # (the KAFKA-14156 switch guard) is whether it is now full.
            self._partitioner.appended(sticky, partition, appended, full,
                                       info.num_partitions, info.available)
        return future

    def send_many(self, topic: str, values: Any, *, keys: Any = None, partitions: Any = None,
                  timestamps: Any = None, headers: Any = None,
                  callback: Optional[Callable[[Any, Optional[BaseException]], Any]] = None
                  ) -> "BulkFuture":
        """Queue many records for one topic from columns; one future for all of them.

        Exactly ``send(topic, values[i], keys[i], partitions[i], timestamps[i],
        headers[i])`` for every i, in order (same partitions, limits, back-pressure,
        idempotence and transactions), but natively and without a Python object per
        record. ``values``/``keys``: sequences of bytes-like or None, numpy arrays
        ('S<n>', 'V<n>', structured, 2-D uint8, object), pyarrow (Chunked)Arrays of
        binary/string types, pandas or polars Series. ``partitions``: None, an int or
        an int array; ``timestamps``: None (now), an int or an int64-ms / datetime64
        array; ``headers``: None, one header list for all, or one per record.
        ``callback(bulk_metadata, exception)`` runs once, on the I/O thread.
        Bad input raises BulkInputError (naming the argument and the first bad index)
        before anything is queued. See :mod:`kprod.bulk`.
        """
        from kprod.bulk import send_many
        return send_many(self, topic, values, keys=keys, partitions=partitions,
                         timestamps=timestamps, headers=headers, callback=callback)

    def produce(self, topic: str, value: Any = None, key: Any = None,
                **kwargs: Any) -> RecordFuture:
        """Alias of :meth:`send` for confluent-kafka users."""
        return self.send(topic, value, key, **kwargs)

    # -- lifecycle -----------------------------------------------------------------------
    def flush(self, timeout: Optional[float] = None) -> None:
        """Send everything queued now and wait for the outcome of every such record.

        Raises KafkaTimeoutError if records are still pending after ``timeout`` s.
        """
        if self._forked:
            self._after_fork("flush()")
        if self._sender.thread is threading.current_thread():
            raise KafkaError("flush() cannot be called from a producer callback")
        acc = self._accumulator
        acc.flushes_in_progress += 1
        try:
            self._sender.wakeup()
            deadline = None if timeout is None else time.monotonic() + timeout
            for batch in acc.incomplete_snapshot():
                remaining = None if deadline is None else max(deadline - time.monotonic(), 0)
                if not batch.result.wait(remaining):
                    pending = sum(1 for b in acc.incomplete_snapshot())
                    raise KafkaTimeoutError(f"flush() timed out after {timeout} s with "
                                            f"{pending} batch(es) still pending")
        finally:
            acc.flushes_in_progress -= 1

    def close(self, timeout: Optional[float] = None) -> None:
        """Send what is queued (up to ``timeout`` s), then stop. Idempotent.

        Every future is complete when close() returns: records not delivered by then
        fail with ProducerClosedError. From a callback this is ``close(0)``.
        """
        if self._forked:
            # A child after fork(): the I/O thread is the parent's; nothing to wait for.
            self._fail_inherited()
            self._closed = True
            return
        on_io_thread = self._sender.thread is threading.current_thread()
        if on_io_thread:
            timeout = 0
        with self._close_lock:
            self._closed = True
            self._send_path.enabled = False
            self._accumulator.closed = True
            sender = self._sender
            sender.running = False
            if timeout is not None and timeout <= 0:
                sender.force_close = True
            sender.wakeup()
        if on_io_thread:
            return   # the I/O thread aborts everything when this callback returns
        sender.thread.join(timeout)
        if sender.thread.is_alive():
            sender.force_close = True
            sender.wakeup()
            sender.thread.join(5.0)
        self._pool.close()
        self._close_plugins()
        # Whatever slipped in (or if the I/O thread is stuck in a user callback):
        for batch in self._accumulator.abort_all() + self._accumulator.incomplete_snapshot():
            batch.complete(-1, -1, ProducerClosedError(
                "Producer closed before the record was sent"))

    def _close_plugins(self) -> None:
        """Once (Java KafkaProducer.close): interceptors, metrics reporters, serializers,
        partitioner; an error in one is logged and the others are still closed."""
        with self._close_lock:
            if self._plugins_closed:
                return
            self._plugins_closed = True
        plugins.close_all(self._interceptors.interceptors, log)
        self.metrics_registry.close()          # the reporters
        done = {id(p) for p in self._interceptors.interceptors + self._reporters}
        plugins.close_all([p for p in self._plugins if id(p) not in done], log)

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # -- transactions (KIP-98, KIP-447) ----------------------------------------------------
    def _require_txn(self) -> "TransactionManager":
        if self._txn is None:
            raise IllegalStateError("Transactions need the 'transactional.id' setting")
        if self._closed:
            raise ProducerClosedError("The producer is closed")
        if self._forked:
            self._after_fork("a transactional call")
        return self._txn

    def init_transactions(self, timeout: Optional[float] = None) -> None:
        """Register ``transactional.id`` with its coordinator (once, before the first
        transaction): fences older producers with the same id and aborts or completes
        their unfinished transaction. Waits at most ``timeout`` s (default max.block.ms)."""
        result = self._require_txn().init_transactions()
        self._sender.wakeup()
        result.wait(self._max_block_s if timeout is None else timeout)

    def begin_transaction(self) -> None:
        """Start a transaction (local: nothing is sent until the first record)."""
        self._require_txn().begin_transaction()

    def send_offsets_to_transaction(self, offsets: Any, group_metadata: Any,
                                    timeout: Optional[float] = None) -> None:
        """Commit consumer offsets as part of the transaction (exactly-once pipelines).

        ``offsets``: ``{(topic, partition): next_offset}`` or a list of objects with
        ``.topic``, ``.partition``, ``.offset`` (e.g. confluent-kafka TopicPartition).
        ``group_metadata``: a group id string, a dict, or an object with ``group_id``
        (and ``generation_id``, ``member_id``, ``group_instance_id``, KIP-447)."""
        txn = self._require_txn()
        result = txn.send_offsets(_normalize_offsets(offsets), _group_fields(group_metadata))
        self._sender.wakeup()
        result.wait(self._max_block_s if timeout is None else timeout)

    def commit_transaction(self, timeout: Optional[float] = None) -> None:
        """Send everything, then commit. Raises if a record of the transaction failed
        (the transaction must then be aborted) or on timeout (call it again to retry)."""
        txn = self._require_txn()
        result = txn.begin_end(commit=True)
        acc = self._accumulator
        acc.flushes_in_progress += 1          # commit flushes first (no lingering)
        try:
            self._sender.wakeup()
            result.wait(self._max_block_s if timeout is None else timeout)
        finally:
            acc.flushes_in_progress -= 1

    def abort_transaction(self, timeout: Optional[float] = None) -> None:
        """Abort: unsent records fail with TransactionAbortedError; what was written
        is never visible to read_committed consumers."""
        txn = self._require_txn()
        result = txn.begin_end(commit=False)
        self._sender.wakeup()
        result.wait(self._max_block_s if timeout is None else timeout)

    # -- introspection --------------------------------------------------------------------
    def partitions_for(self, topic: str) -> List[PartitionInfo]:
        """The topic's partitions (waits up to max.block.ms for metadata)."""
        if self._closed:
            raise ProducerClosedError("Cannot fetch metadata: the producer is closed")
        if self._forked:
            self._after_fork("partitions_for()")
        info = self._metadata.wait_for_topic(topic, self._max_block_s, self._sender.wakeup)
        return list(info.partitions)

    def metrics(self) -> Dict[str, float]:
        """Java-named producer metrics (record-send-rate, request-latency-avg, ...)."""
        snapshot = self.metrics_registry.snapshot()
        snapshot.update(self._sender.settings.stats.snapshot())
        snapshot["batch-split-total"] = self._sender.batch_split_total
        return snapshot

    def _telemetry_samples(self) -> List[Sample]:
        """What a KIP-714 push carries (called on the I/O thread): every metric of the
        registry by group, name and tags, and the connection counters."""
        named = [(name.group, name.name, name.tags, metric.metric_value())
                 for name, metric in list(self.metrics_registry.registry.metrics.items())]
        named.extend((METRICS_GROUP, name, (), value)
                     for name, value in self._sender.settings.stats.snapshot().items())
        return samples(metric for metric in named if not math.isnan(metric[3]))

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        cfg = self.config
        txn = cfg["transactional.id"]
        state = "closed" if self._closed else "forked" if self._forked else "open"
        return (f"<kprod.Producer client.id={cfg['client.id']!r} "
                f"bootstrap.servers={','.join(cfg['bootstrap.servers'])!r}"
                + (f" transactional.id={txn!r}" if txn is not None else "") + f" {state}>")


def as_send_callback(callback: Any) -> Callable[[Any, Optional[BaseException]], Any]:
    """A send() callback: a callable ``(metadata, exception)`` or an object with Java's
    ``on_completion``/``onCompletion(metadata, exception)``; anything else is a
    TypeError raised by send() before the record is queued."""
    if callable(callback):
        return cast(SendCallback, callback)     # a user's object: checked when called
    for name in ("on_completion", "onCompletion"):
        method = getattr(callback, name, None)
        if callable(method):
            return cast(SendCallback, method)
    raise TypeError(f"send() callback must be callable as callback(metadata, exception) or "
                    f"have an on_completion(metadata, exception) method; got "
                    f"{type(callback).__name__} {callback!r}")


def _normalize_offsets(offsets: Any) -> Dict[Any, Any]:
    if isinstance(offsets, Mapping):
        return dict(offsets)
    return {(tp.topic, tp.partition): tp for tp in offsets}


def _group_fields(group: Any) -> Dict[str, Any]:
    if isinstance(group, str):
        return {"group_id": group}
    if isinstance(group, Mapping):
        if "group_id" not in group:
            raise ConfigError("group_metadata needs a 'group_id'")
        return dict(group)
    fields = {name: getattr(group, name) for name in
              ("group_id", "generation_id", "member_id", "group_instance_id")
              if getattr(group, name, None) is not None}
    if "group_id" not in fields:
        raise ConfigError(f"group_metadata {group!r} has no group_id")
    return fields
