"""RecordAccumulator: per-partition queues of open batches, readiness and drain.

Mirrors Java's ``RecordAccumulator``: appends go into the
last open batch of a partition's deque under that deque's lock; a new batch's
memory comes from the native buffer pool *outside* the lock (it may block for
``max.block.ms``), then the append is retried under the lock. The sender calls
``ready()`` and ``drain()``; batches leave a deque only under its lock, so a
send() callback registered under the lock can never miss its batch's outcome.
"""
from __future__ import annotations

import random
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from kprod._internals.backoff import exponential
from kprod._internals.batch import ProducerBatch, split_batch
from kprod._native.appender import PartitionQueue, try_append
from kprod._native.partition import PartitionChooser
from kprod._native.readiness import drain_heads, refresh_load_stats, scan_ready
from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.record_encoding import record_size_upper_bound
from kprod.errors import ProducerClosedError, RecordTooLargeError

TopicPartition = Tuple[str, int]

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


class RecordAccumulator:
    def __init__(self, *, batch_size: int, linger_ms: int, compression: str,
                 compression_level: Optional[int], pool, delivery_timeout_ms: int,
                 retry_backoff_ms: int, retry_backoff_max_ms: int, clock: Callable[[], float],
                 idempotent: bool, max_request_size: int,
                 partitioner: Optional[PartitionChooser] = None) -> None:
        self.batch_size = batch_size
        self.linger_ms = linger_ms
        self.codec = CODECS[compression]
        self.compression_level = compression_level
        self.pool = pool
        self.delivery_timeout_ms = delivery_timeout_ms
        self.retry_backoff_ms = retry_backoff_ms
        self.retry_backoff_max_ms = retry_backoff_max_ms
        self.clock = clock
        self.idempotent = idempotent
        self.max_request_size = max_request_size
        self.queues: Dict[TopicPartition, PartitionQueue] = {}
        self._queues_lock = threading.Lock()
        self.incomplete: Set[ProducerBatch] = set()
        self._incomplete_lock = threading.Lock()
        self.flushes_in_progress = 0
        self.closed = False
        # The partition decision (explicit, custom, murmur2, sticky), shared with the
        # send fast path; its sticky states get the adaptive weights (below).
        self.partitioner = partitioner if partitioner is not None else PartitionChooser(
            batch_size)
        self._drain_index: Dict[int, int] = {}
        self._load_stats_cache: Dict[str, _LoadStats] = {}   # update_partition_load_stats
        # Bumped whenever a queue's length changes (any thread; a lost increment still
        # changes the value), so load stats are recomputed only when they can differ.
        self.queue_changes = 0
        self._load_stats_seen: Tuple[Any, ...] = ()
        self._random = random.Random()
        # next_expiry_ms's cached bound (clock ms; see there) and the value of
        # older_batches_queued it was computed at.
        self._expiry_bound_ms = 0.0
        self._expiry_seen = -1
        # Bumped (any thread) whenever a batch that may be older than the queue heads
        # goes into a queue: a retry or split piece at the front, a send_many batch.
        self.older_batches_queued = 0
        # Called with a clock time (ms) at or before the creation of each batch that
        # append() opens (Java's RecordAppendResult.newBatchCreated): the sender's wakeup.
        self.on_new_batch: Optional[Callable[[float], None]] = None

    # -- caller threads ---------------------------------------------------------
    def queue(self, tp: TopicPartition) -> PartitionQueue:
        q = self.queues.get(tp)
        if q is None:
            with self._queues_lock:
                q = self.queues.get(tp)
                if q is None:
                    q = PartitionQueue(tp)
                    # copy-on-write so the sender can iterate without a lock
                    queues = dict(self.queues)
                    queues[tp] = q
                    self.queues = queues
        return q

    def append(self, tp: TopicPartition, timestamp: int, key, value, headers, callback,
               max_block_ms: float, key_size: int, value_size: int):
        """Append one record to the partition's open batch, opening a batch if needed.

        The Python entry to the native append (``SendPath`` is the native one, for its
        common case). Returns ``(future, appended_bytes, batch_full)``; a batch opened
        for the record is reported to :attr:`on_new_batch` first."""
        q = self.queues.get(tp)
        if q is not None:
            # Lock-free: try_append is atomic under the GIL (see kprod._native.appender).
            result = try_append(q.batches, timestamp, key, value, headers, callback,
                                key_size, value_size)
            if result is not None:
                return result
        else:
            q = self.queue(tp)
        return self._append_new_batch(q, timestamp, key, value, headers, callback,
                                      max_block_ms, key_size, value_size)

    def _append_new_batch(self, q: PartitionQueue, timestamp: int, key, value, headers,
                          callback, max_block_ms: float, key_size: int, value_size: int):
        """The partition has no open batch with room: open one (Java append's second
        half: memory from the pool outside the lock, then retry under it)."""
        opened_ms = self.clock()
        size = max(self.batch_size, record_size_upper_bound(key, value, headers))
        buffer = None
        try:
            while True:
                with q.lock:
                    if self.closed:
                        raise ProducerClosedError(
                            "Producer closed while send() waited for memory"
                            if buffer is not None else "Cannot send: the producer is closed")
                    # Another thread may have opened a batch meanwhile.
                    result = try_append(q.batches, timestamp, key, value, headers, callback,
                                        key_size, value_size)
                    if result is None and buffer is not None:
                        builder = RecordBatchBuilder(buffer, compression=self.codec,
                                                     compression_level=self.compression_level,
                                                     write_limit=self.batch_size)
                        batch = ProducerBatch(q.tp, builder, buffer, self.clock())
                        opened_ms = batch.created_ms     # its linger counts from here
                        buffer = None
                        # Our record goes in first, then the batch becomes visible to
                        # the lock-free appends of other threads.
                        result = try_append((batch,), timestamp, key, value, headers,
                                            callback, key_size, value_size)
                        if result is None:   # cannot happen: sized for the record's bound
                            raise RecordTooLargeError(
                                f"record of {size} bytes does not fit a fresh batch for {q.tp}")
                        with self._incomplete_lock:
                            self.incomplete.add(batch)
                        q.batches.append(batch)
                        self.queue_changes += 1
                    if result is not None:
                        break
                # Memory for a new batch from the pool, outside the lock (may block).
                buffer = self.pool.allocate(size, max_block_ms)
        finally:
            if buffer is not None:
                buffer.release()
        if self.on_new_batch is not None:
            self.on_new_batch(opened_ms)
        return result

    # -- the bulk path (kprod.bulk) ------------------------------------------------
    def open_unqueued_batch(self, tp: TopicPartition, min_size: int,
                            max_block_ms: float) -> ProducerBatch:
        """A new batch for ``tp`` in no deque yet: the bulk path fills it without the
        GIL (no other thread can see it), then hands it to :meth:`queue_batch`. The
        memory comes from the pool (may block up to ``max_block_ms``)."""
        if self.closed:
            raise ProducerClosedError("Cannot send: the producer is closed")
        buffer = self.pool.allocate(max(self.batch_size, min_size), max_block_ms)
        try:
            builder = RecordBatchBuilder(buffer, compression=self.codec,
                                         compression_level=self.compression_level,
                                         write_limit=self.batch_size)
        except BaseException:
            buffer.release()
            raise
        return ProducerBatch(tp, builder, buffer, self.clock())

    def queue_batch(self, batch: ProducerBatch) -> None:
        """Append a batch from :meth:`open_unqueued_batch` to its partition's deque
        (behind what other threads queued meanwhile; it is open for their appends
        from now on). Raises ProducerClosedError after close() (the caller completes
        the batch)."""
        q = self.queue(batch.tp)
        with q.lock:
            if self.closed:
                raise ProducerClosedError("Producer closed while send_many() ran")
            with self._incomplete_lock:
                self.incomplete.add(batch)
            q.batches.append(batch)
            self.older_batches_queued += 1     # filled since its creation: may be old
        if self.on_new_batch is not None:
            self.on_new_batch(batch.created_ms)

    # -- sender thread ------------------------------------------------------------
    def backoff_ms(self, attempts: int) -> float:
        """KIP-580: ``retry.backoff.ms * 2^(attempts-1)`` with +-20% jitter, capped."""
        if attempts <= 0:
            return 0
        return exponential(self.retry_backoff_ms, attempts - 1, self.retry_backoff_max_ms,
                           self._random)

    def ready(self, leader_for: Callable[[TopicPartition], Optional[int]], now: float,
              by_leader: Optional[Dict[int, List[TopicPartition]]] = None,
              topics: Optional[Dict[str, Any]] = None) -> Tuple[Set[int], float, Set[str]]:
        """Nodes with sendable data, ms until the next check, topics with unknown leaders
        (the scan is native: :func:`kprod._native.readiness.scan_ready`). ``by_leader``
        gets each ready node's partitions (what :meth:`drain` takes); ``topics``, the
        metadata snapshot's, is read in place of calling ``leader_for``."""
        forced = self.pool.queued > 0 or self.closed or self.flushes_in_progress > 0
        return scan_ready(self.queues, leader_for, now, self.linger_ms, forced, by_leader,
                          topics)

    def update_partition_load_stats(self, topics, unavailable_nodes: Set[int]) -> None:
        """Adaptive partitioning (KIP-794): weight each topic's sticky choice towards
        partitions with shorter queues, skipping leaders unavailable for longer than
        ``partitioner.availability.timeout.ms`` (Java RecordAccumulator.ready)."""
        # Runs on every sender loop: nothing to do unless a queue length, the metadata,
        # the topics in use or the unavailable nodes changed; the usable partitions are
        # cached per metadata TopicInfo and availability, and a topic's weights
        # recomputed only when one of its queue lengths changed.
        seen = (self.queue_changes, topics, len(self.partitioner.states), unavailable_nodes)
        last = self._load_stats_seen
        if last and seen[0] == last[0] and seen[1] is last[1] and seen[2] == last[2] \
                and seen[3] == last[3]:
            return
        self._load_stats_seen = (seen[0], topics, seen[2], set(unavailable_nodes))
        refresh_load_stats(self.queues, self.partitioner.states, topics,
                           self._load_stats_cache, unavailable_nodes, self._load_stats_entry,
                           PartitionChooser.update_load_stats)

    def _load_stats_entry(self, topic: str, info, state, unavailable) -> "_LoadStats":
        """A topic's usable partitions (leader known, not unavailable), cached."""
        unavailable = set(unavailable)
        partitions = [p.partition for p in info.partitions
                      if p.leader >= 0 and p.leader not in unavailable]
        entry = self._load_stats_cache[topic] = _LoadStats(
            info, state, unavailable, partitions, [(topic, p) for p in partitions])
        return entry

    def mute(self, tp: TopicPartition) -> None:
        """No drain from the partition until :meth:`unmute` (one batch in flight at a
        time: max.in.flight.requests.per.connection=1, Java's guaranteeMessageOrder)."""
        self.queue(tp).muted = True

    def unmute(self, tp: TopicPartition) -> None:
        self.queue(tp).muted = False

    def drain(self, node_id: int, partitions: Sequence[TopicPartition], max_size: int,
              now: float, may_drain: Callable[[ProducerBatch], bool]) -> List[ProducerBatch]:
        """Take at most ``max_size`` bytes of head batches from the node's partitions,
        round-robin from where the last drain stopped (starvation avoidance)."""
        taken, self._drain_index[node_id] = drain_heads(
            partitions, self.queues, self._drain_index.get(node_id, 0), max_size, now,
            may_drain)
        self.queue_changes += len(taken)
        return taken

    def reenqueue(self, batch: ProducerBatch, now: float) -> None:
        """Put a batch back for retry at the front, in sequence order with idempotence."""
        batch.attempts += 1
        batch.last_attempt_ms = now
        batch.backoff_ms = self.backoff_ms(batch.attempts)
        batch.in_flight = False
        self._insert_at_front(batch.tp, [batch])

    def split_and_reenqueue(self, batch: ProducerBatch, max_bytes: int, max_records: int,
                            now: float, stamp: Optional[Callable[[List[ProducerBatch]], None]]
                            = None) -> List[ProducerBatch]:
        """Java ``RecordAccumulator.splitAndReenqueue``: split a batch the broker rejected
        as too large (see :func:`split_batch`) and put the pieces back at the *front* of
        the partition's queue, in order, as batches never tried (no backoff, attempts 0).
        ``stamp`` (idempotence) gives the pieces the big batch's sequence range first;
        pieces with sequences go in sequence order (Java insertInSequenceOrder), ahead of
        the later batches of the partition that may be waiting for their retry.

        The big batch stays incomplete here; the caller retires it."""
        pieces = split_batch(batch, max_bytes, max_records, self.codec,
                             self.compression_level)
        try:
            if stamp is not None:
                stamp(pieces)
        except BaseException as exc:    # the futures already route to the pieces
            for piece in pieces:
                piece.complete(-1, -1, exc)
            raise
        for piece in pieces:
            piece.last_attempt_ms = now
        with self._incomplete_lock:
            self.incomplete.update(pieces)
        self._insert_at_front(batch.tp, pieces)
        return pieces

    def _insert_at_front(self, tp: TopicPartition, batches: List[ProducerBatch]) -> None:
        """Put batches (consecutive, in order) back at the front of the partition's
        queue; with idempotence, batches with sequences go in sequence order (Java
        insertInSequenceOrder): before the first queued batch with a larger sequence
        or none at all."""
        q = self.queue(tp)
        first = batches[0]
        with q.lock:
            queued = q.batches
            at = 0
            if self.idempotent and first.has_sequence:
                at = len(queued)
                for i, other in enumerate(queued):
                    if not other.has_sequence or other.base_sequence > first.base_sequence:
                        at = i
                        break
            for i, batch in enumerate(batches):
                queued.insert(at + i, batch)
            self.queue_changes += 1
            self.older_batches_queued += 1

    def expire(self, now: float) -> List[Tuple[ProducerBatch, bool]]:
        """Take the queued batches past delivery.timeout.ms: each queue's heads up to
        its first live batch (Java ``expiredBatches``), in queue order. Each comes with
        whether its fate is unknown: a retry that was sent with a sequence (the broker
        may have written it; the sender marks its sequence unresolved)."""
        expired: List[Tuple[ProducerBatch, bool]] = []
        deadline = self.delivery_timeout_ms
        for q in list(self.queues.values()):
            if not q.batches or now - q.batches[0].created_ms < deadline:
                continue
            with q.lock:
                while q.batches and now - q.batches[0].created_ms >= deadline:
                    batch = q.batches.popleft()
                    expired.append((batch, batch.has_sequence))
                    self.queue_changes += 1
        return expired

    def next_expiry_ms(self, now: float) -> float:
        """ms until a queue's head may expire: a lower bound, cached until it is reached
        (the I/O thread asks every loop). It holds because a queue's batches are in
        creation order, except those that bump :attr:`older_batches_queued` (which
        drops the cache), and a batch queued from now on expires no sooner than
        ``now + delivery.timeout.ms`` (send() opens and queues a batch in one step,
        microseconds apart, well below the loop's millisecond timeouts)."""
        changes = self.older_batches_queued     # read before the scan (see queue_batch)
        if now < self._expiry_bound_ms and changes == self._expiry_seen:
            return self._expiry_bound_ms - now
        deadline = self.delivery_timeout_ms
        soonest = now + deadline
        for q in self.queues.values():
            batches = q.batches
            if batches:
                due = batches[0].created_ms + deadline
                if due < soonest:
                    soonest = due
        self._expiry_bound_ms = soonest
        self._expiry_seen = changes
        return max(soonest - now, 0)

    def abort_all(self) -> List[ProducerBatch]:
        """Remove every queued batch (on forced close)."""
        aborted: List[ProducerBatch] = []
        for q in self.queues.values():
            with q.lock:
                aborted.extend(q.batches)
                q.batches.clear()
                self.queue_changes += 1
        return aborted

    def abort_undrained(self, error: BaseException) -> List[ProducerBatch]:
        """Java ``abortUndrainedBatches`` (an aborted transaction): fail the queued
        batches never sent (no sequence yet); sent ones waiting for a retry stay (the
        broker may have them). Returns the batches this call completed."""
        aborted: List[ProducerBatch] = []
        for q in list(self.queues.values()):
            with q.lock:
                undrained = [b for b in q.batches if not b.has_sequence]
                if not undrained:
                    continue
                kept = [b for b in q.batches if b.has_sequence]
                q.batches.clear()
                q.batches.extend(kept)
                self.queue_changes += 1
            for batch in undrained:
                self.batch_done(batch)
                if batch.complete(-1, -1, error):
                    aborted.append(batch)
        return aborted

    def batch_done(self, batch: ProducerBatch) -> None:
        with self._incomplete_lock:
            self.incomplete.discard(batch)

    def incomplete_snapshot(self) -> List[ProducerBatch]:
        with self._incomplete_lock:
            return list(self.incomplete)

    def has_undrained(self) -> bool:
        return any(q.batches for q in self.queues.values())

    def topics_with_batches(self) -> Set[str]:
        """Topics with a queued batch (their metadata must stay fresh)."""
        return {tp[0] for tp, q in self.queues.items() if q.batches}



class _LoadStats:
    """A topic's usable partitions for adaptive partitioning, cached for one metadata
    TopicInfo, sticky state and set of unavailable nodes."""

    __slots__ = ("info", "state", "unavailable", "partitions", "keys", "queue_sizes")

    def __init__(self, info, state, unavailable: Set[int], partitions: List[int],
                 keys: List[TopicPartition]) -> None:
        self.info = info
        self.state = state
        self.unavailable = unavailable
        self.partitions = partitions          # those with a usable leader
        self.keys = keys                      # their (topic, partition)
        self.queue_sizes: Optional[List[int]] = None   # the last weights were for these
