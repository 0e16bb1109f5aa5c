"""RecordAccumulator: per-partition queues of open batches, readiness and drain.

Mirrors Java's ``RecordAccumulator`` (see research §7.9): appends go into the
last open batch of a partition's deque under that deque's lock; a new batch's
memory comes from the native buffer pool *outside* the lock (it may block for
``max.block.ms``), then the append is retried under the lock. The sender calls
``ready()`` and ``drain()``; batches leave a deque only under its lock, so a
send() callback registered under the lock can never miss its batch's outcome.
"""
from __future__ import annotations

import random
import threading
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from kprod._internals.batch import ProducerBatch, split_batch
from kprod._internals.sticky import BuiltInPartitioner
from kprod._native.records import RecordBatchBuilder, record_size_upper_bound
from kprod._native.appender import PartitionQueue, try_append
from kprod.errors import ProducerClosedError, RecordTooLargeError

TopicPartition = Tuple[str, int]

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


class RecordAccumulator:
    def __init__(self, *, batch_size: int, linger_ms: int, compression: str,
                 compression_level: Optional[int], pool, delivery_timeout_ms: int,
                 retry_backoff_ms: int, retry_backoff_max_ms: int, clock: Callable[[], float],
                 idempotent: bool, max_request_size: int) -> None:
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
        self.partitioner = BuiltInPartitioner(batch_size)
        self._drain_index: Dict[int, int] = {}
        # topic -> [TopicInfo, sticky state, unavailable nodes, usable partitions, their
        # (topic, partition) keys, queue lengths last used] (update_partition_load_stats)
        self._load_stats_cache: Dict[str, list] = {}
        self._random = random.Random()

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

    def append_new_batch(self, q: PartitionQueue, timestamp: int, key, value, headers,
                         callback, max_block_ms: float, key_size: int, value_size: int):
        """The slow path of an append: the partition has no open batch with room.

        Returns ``(future, appended_bytes, batch_full)`` like ``try_append``."""
        with q.lock:
            if self.closed:
                raise ProducerClosedError("Cannot send: the producer is closed")
            result = try_append(q.batches, timestamp, key, value, headers, callback,
                                key_size, value_size)
        if result is not None:
            return result
        # Memory for a new batch from the pool, outside the lock (may block).
        size = max(self.batch_size, record_size_upper_bound(key, value, headers))
        buffer = self.pool.allocate(size, max_block_ms)
        try:
            with q.lock:
                if self.closed:
                    raise ProducerClosedError("Producer closed while send() waited for memory")
                result = try_append(q.batches, timestamp, key, value, headers, callback,
                                    key_size, value_size)
                if result is not None:
                    return result     # another thread opened a batch meanwhile
                builder = RecordBatchBuilder(buffer, compression=self.codec,
                                             compression_level=self.compression_level,
                                             write_limit=self.batch_size)
                batch = ProducerBatch(q.tp, builder, buffer, self.clock())
                buffer = None
                # Our record goes in first, then the batch becomes visible to the
                # lock-free fast path of other threads.
                result = try_append((batch,), timestamp, key, value, headers, callback,
                                    key_size, value_size)
                if result is None:   # cannot happen: sized for the record's upper bound
                    raise RecordTooLargeError(
                        f"record of {size} bytes does not fit a fresh batch for {q.tp}")
                with self._incomplete_lock:
                    self.incomplete.add(batch)
                q.batches.append(batch)
                return result
        finally:
            if buffer is not None:
                buffer.release()

    # -- sender thread ------------------------------------------------------------
    def backoff_ms(self, attempts: int) -> float:
        """KIP-580: ``retry.backoff.ms * 2^(attempts-1)`` with +-20% jitter, capped."""
        if attempts <= 0:
            return 0
        term = self.retry_backoff_ms * (2 ** min(attempts - 1, 32))
        return min(term * self._random.uniform(0.8, 1.2), self.retry_backoff_max_ms)

    def ready(self, leader_for: Callable[[TopicPartition], Optional[int]],
              now: float) -> Tuple[Set[int], float, Set[str]]:
        """Nodes with sendable data, ms until the next check, topics with unknown leaders."""
        ready_nodes: Set[int] = set()
        unknown_leader_topics: Set[str] = set()
        next_ready_ms = float("inf")
        exhausted = self.pool.queued > 0
        forced = exhausted or self.closed or self.flushes_in_progress > 0
        for tp, q in self.queues.items():
            batches = q.batches
            if not batches:
                continue
            leader = leader_for(tp)
            if leader is None:
                unknown_leader_topics.add(tp[0])
                continue
            if leader in ready_nodes or q.muted:
                continue
            head = batches[0]
            waited = now - head.last_attempt_ms
            backing_off = head.attempts > 0 and waited < head_backoff(self, head)
            time_to_wait = head_backoff(self, head) if backing_off else self.linger_ms
            full = len(batches) > 1 or head.payload is not None or (
                head.builder is not None and head.builder.is_full)
            sendable = full or waited >= time_to_wait or forced
            if sendable and not backing_off:
                ready_nodes.add(leader)
            else:
                next_ready_ms = min(next_ready_ms, max(time_to_wait - waited, 0))
        return ready_nodes, next_ready_ms, unknown_leader_topics

    def update_partition_load_stats(self, topics, unavailable_nodes: Set[int]) -> None:
        """Adaptive partitioning (KIP-794): weight each topic's sticky choice towards
        partitions with shorter queues, skipping leaders unavailable for longer than
        ``partitioner.availability.timeout.ms`` (Java RecordAccumulator.ready)."""
        # Runs on every sender loop: the usable partitions are cached per metadata
        # TopicInfo and availability, and the weights recomputed only when a queue
        # length changed (they depend on nothing else).
        queues = self.queues
        cache = self._load_stats_cache
        for topic, state in list(self.partitioner._topics.items()):
            info = topics.get(topic)
            if info is None:
                continue
            entry = cache.get(topic)
            if entry is None or entry[0] is not info or entry[1] is not state \
                    or entry[2] != unavailable_nodes:
                partitions = [p.partition for p in info.partitions
                              if p.leader >= 0 and p.leader not in unavailable_nodes]
                entry = cache[topic] = [info, state, set(unavailable_nodes), partitions,
                                        [(topic, p) for p in partitions], None]
            sizes = []
            for tp in entry[4]:
                q = queues.get(tp)
                sizes.append(len(q.batches) if q is not None else 0)
            if sizes == entry[5]:
                continue
            entry[5] = sizes
            BuiltInPartitioner.update_load_stats(state, entry[3], sizes, info.num_partitions)

    def drain(self, node_id: int, partitions: Sequence[TopicPartition], max_size: int,
              now: float, may_drain: Callable[[ProducerBatch], bool]) -> List[ProducerBatch]:
        """Take at most ``max_size`` bytes of head batches from the node's partitions,
        round-robin from where the last drain stopped (starvation avoidance)."""
        if not partitions:
            return []
        taken: List[ProducerBatch] = []
        size = 0
        start = self._drain_index.get(node_id, 0) % len(partitions)
        n = len(partitions)
        for i in range(n):
            tp = partitions[(start + i) % n]
            q = self.queues.get(tp)
            if q is None or q.muted:
                continue
            with q.lock:
                if not q.batches:
                    continue
                head = q.batches[0]
                if head.attempts > 0 and now - head.last_attempt_ms < head_backoff(self, head):
                    continue
                estimate = head.estimated_size()
                if taken and size + estimate > max_size:
                    self._drain_index[node_id] = (start + i) % n
                    break
                if not may_drain(head):
                    continue
                q.batches.popleft()
            # close() compresses and CRCs: outside the deque lock (Java does the same).
            head.close()
            size += len(head.payload)
            taken.append(head)
        else:
            self._drain_index[node_id] = (start + 1) % n
        return taken

    def reenqueue(self, batch: ProducerBatch, now: float) -> None:
        """Put a batch back for retry at the front, in sequence order with idempotence."""
        batch.attempts += 1
        batch.last_attempt_ms = now
        batch.backoff_ms = self.backoff_ms(batch.attempts)
        batch.in_flight = False
        q = self.queue(batch.tp)
        with q.lock:
            if self.idempotent and batch.has_sequence:
                # Java insertInSequenceOrder: before the first queued batch with a larger
                # sequence or none at all.
                for i, queued in enumerate(q.batches):
                    if not queued.has_sequence or queued.base_sequence > batch.base_sequence:
                        q.batches.insert(i, batch)
                        break
                else:
                    q.batches.append(batch)
            else:
                q.batches.appendleft(batch)

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
        q = self.queue(batch.tp)
        with q.lock:
            at = 0
            if self.idempotent and pieces[0].has_sequence:
                first = pieces[0].base_sequence
                for at, queued in enumerate(q.batches):
                    if not queued.has_sequence or queued.base_sequence > first:
                        break
                else:
                    at = len(q.batches)
            for i, piece in enumerate(pieces):
                q.batches.insert(at + i, piece)
        return pieces

    def expired_batches(self, now: float) -> List[ProducerBatch]:
        """Queued batches past delivery.timeout.ms (head first, stop at the first live one).

        Idempotent retries whose earlier attempt may have been written are left
        to the sender (their fate is unknown; never failed early)."""
        expired: List[ProducerBatch] = []
        for q in self.queues.values():
            if not q.batches:
                continue
            with q.lock:
                while q.batches:
                    head = q.batches[0]
                    if now - head.created_ms < self.delivery_timeout_ms:
                        break
                    if head.has_sequence:
                        break   # sent before: the sender decides (unresolved sequence)
                    q.batches.popleft()
                    expired.append(head)
        return expired

    def next_expiry_ms(self, now: float) -> float:
        soonest = float("inf")
        for q in self.queues.values():
            if q.batches:
                soonest = min(soonest, q.batches[0].created_ms + self.delivery_timeout_ms - now)
        return max(soonest, 0)

    def abort_all(self) -> List[ProducerBatch]:
        """Remove every queued batch (on forced close)."""
        aborted: List[ProducerBatch] = []
        for q in self.queues.values():
            with q.lock:
                aborted.extend(q.batches)
                q.batches.clear()
        return aborted

    def batch_done(self, batch: ProducerBatch) -> None:
        with self._incomplete_lock:
            self.incomplete.discard(batch)

    def incomplete_snapshot(self) -> List[ProducerBatch]:
        with self._incomplete_lock:
            return list(self.incomplete)

    def has_undrained(self) -> bool:
        return any(q.batches for q in self.queues.values())


def head_backoff(acc: RecordAccumulator, batch: ProducerBatch) -> float:
    return batch.backoff_ms
