"""Producer id, epoch and per-partition sequence numbers (KIP-98, KIP-360).

Sequences count records per (producer id, epoch, partition), start at 0 and
are assigned when a batch is drained, never changed on retry (a retry must be
byte-identical or the broker would see a new batch and write a duplicate).
The broker de-duplicates against the last 5 batches of each partition, hence
at most 5 requests in flight per connection.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from kprod._internals.batch import NO_SEQUENCE, ProducerBatch, increment_sequence

TopicPartition = Tuple[str, int]
NO_PRODUCER_ID = -1
NO_EPOCH = -1
EPOCH_MAX = 32767


class PartitionSequences:
    """One partition's sequence bookkeeping."""

    __slots__ = ("next_sequence", "last_acked_sequence", "last_acked_offset", "in_flight",
                 "unresolved", "epoch_bump_needed", "producer_id", "epoch")

    def __init__(self, producer_id: int, epoch: int) -> None:
        self.next_sequence = 0
        self.last_acked_sequence = -1
        self.last_acked_offset = -1
        self.in_flight: List[ProducerBatch] = []   # sorted by base sequence
        self.unresolved = False
        self.epoch_bump_needed = False
        self.producer_id = producer_id
        self.epoch = epoch


class IdempotenceState:
    """Java ``TransactionManager``'s idempotent half (no transactions here)."""

    def __init__(self) -> None:
        self.producer_id = NO_PRODUCER_ID
        self.epoch = NO_EPOCH
        self.partitions: Dict[TopicPartition, PartitionSequences] = {}
        self.bump_requested = False
        self.fatal_error: Optional[BaseException] = None

    @property
    def has_producer_id(self) -> bool:
        return self.producer_id >= 0

    def set_producer_id(self, producer_id: int, epoch: int) -> None:
        self.producer_id = producer_id
        self.epoch = epoch
        self.bump_requested = False

    def partition(self, tp: TopicPartition) -> PartitionSequences:
        state = self.partitions.get(tp)
        if state is None:
            state = self.partitions[tp] = PartitionSequences(self.producer_id, self.epoch)
        return state

    # -- drain gate (Java shouldStopDrainBatchesForPartition) --------------------------
    def may_drain(self, batch: ProducerBatch) -> bool:
        if not self.has_producer_id or self.bump_requested or self.fatal_error:
            return False
        state = self.partition(batch.tp)
        if not batch.has_sequence:
            if state.producer_id != self.producer_id or state.epoch != self.epoch:
                # Switch the partition to the new pid/epoch only once nothing of the old
                # one is in flight (KIP-360 lazy switch).
                if state.in_flight:
                    return False
                self._reset_partition(state)
            if state.unresolved:
                return False
            if state.last_acked_sequence < 0 and state.in_flight:
                # Nothing acknowledged yet under this pid/epoch: a broker with no state for
                # us accepts *any* first sequence, so if our first batch bounced (e.g.
                # NOT_LEADER_OR_FOLLOWER right after a topic is created or a leader moved)
                # a pipelined later batch would be written ahead of it and the retry
                # would land behind it (reordering). One batch in flight until the
                # partition's first ack; after that the broker rejects gaps itself.
                return False
            return True
        # A retry: only when it is the lowest in-flight sequence (the broker must see
        # the partition's batches in order).
        if batch.producer_id != self.producer_id or batch.producer_epoch != self.epoch:
            return False
        return bool(state.in_flight) and state.in_flight[0] is batch

    def _reset_partition(self, state: PartitionSequences) -> None:
        state.producer_id, state.epoch = self.producer_id, self.epoch
        state.next_sequence = 0
        state.last_acked_sequence = -1
        state.unresolved = False
        state.epoch_bump_needed = False

    def assign(self, batch: ProducerBatch, transactional: bool) -> None:
        """Give a freshly drained batch its sequence and stamp it."""
        state = self.partitions.get(batch.tp) or self.partition(batch.tp)
        if batch.base_sequence == NO_SEQUENCE:
            base = state.next_sequence
            batch.set_producer_state(self.producer_id, self.epoch, base, transactional)
            state.next_sequence = increment_sequence(base, batch.record_count)
            state.in_flight.append(batch)
        # retries keep their stamp and their place in in_flight

    def take_over_split(self, batch: ProducerBatch, pieces: List[ProducerBatch]) -> None:
        """The pieces of a batch split after MESSAGE_TOO_LARGE take over its sequence range,
        consecutively and in order, with its producer id and epoch, and its place among the
        partition's in-flight batches (Java ProducerBatch.assignProducerStateToBatches +
        TransactionManager.addInFlightBatch). The broker wrote nothing of the big batch,
        so the first piece carries the sequence it expects next; later batches already
        sent get OUT_OF_ORDER_SEQUENCE_NUMBER and are retried behind the pieces.

        If the batch is not tracked in flight (its sequences were reset meanwhile) the
        pieces stay unsequenced and get fresh sequences when drained."""
        if not batch.has_sequence:
            return
        state = self.partition(batch.tp)
        try:
            at = state.in_flight.index(batch)
        except ValueError:
            return
        sequence = batch.base_sequence
        for piece in pieces:
            piece.set_producer_state(batch.producer_id, batch.producer_epoch, sequence,
                                     batch.transactional)
            sequence = increment_sequence(sequence, piece.record_count)
        state.in_flight[at:at + 1] = pieces

    # -- outcomes --------------------------------------------------------------------
    def on_success(self, batch: ProducerBatch, base_offset: int) -> None:
        # Once per acknowledged batch on the I/O thread: the usual case inline.
        state = self.partitions.get(batch.tp) or self.partition(batch.tp)
        in_flight = state.in_flight
        if in_flight and in_flight[0] is batch:
            del in_flight[0]           # acknowledged in sequence order
        else:
            self._remove_in_flight(state, batch)
        if batch.producer_id == state.producer_id and batch.producer_epoch == state.epoch:
            last = increment_sequence(batch.base_sequence, batch.record_count - 1)
            if last > state.last_acked_sequence:
                state.last_acked_sequence = last
            if base_offset >= 0:
                state.last_acked_offset = base_offset + batch.record_count - 1
        if state.unresolved:
            self._maybe_resolve(state)

    def on_failed(self, batch: ProducerBatch, unknown_fate: bool) -> None:
        """A batch failed for good. If the broker may or may not have written it, or
        later sequences depend on it, the partition's sequences can't be trusted:
        bump the epoch (KIP-360) once nothing is in flight."""
        state = self.partition(batch.tp)
        self._remove_in_flight(state, batch)
        if batch.has_sequence and batch.producer_epoch == self.epoch:
            self.request_epoch_bump(batch.tp)
        self._maybe_resolve(state)

    def mark_unresolved(self, batch: ProducerBatch) -> None:
        self.partition(batch.tp).unresolved = True

    def _remove_in_flight(self, state: PartitionSequences, batch: ProducerBatch) -> None:
        try:
            state.in_flight.remove(batch)
        except ValueError:
            pass

    def _maybe_resolve(self, state: PartitionSequences) -> None:
        if state.unresolved and not state.in_flight:
            if state.next_sequence == increment_sequence(state.last_acked_sequence, 1) \
                    if state.last_acked_sequence >= 0 else state.next_sequence == 0:
                state.unresolved = False
            else:
                state.epoch_bump_needed = True
                self.bump_requested = True

    def request_epoch_bump(self, tp: Optional[TopicPartition] = None) -> None:
        self.bump_requested = True
        if tp is not None:
            self.partition(tp).epoch_bump_needed = True

    def bump_epoch_locally(self) -> bool:
        """KIP-360 local bump; False when the epoch is exhausted (needs InitProducerId)."""
        if self.epoch >= EPOCH_MAX - 1:
            return False
        self.epoch += 1
        self.bump_requested = False
        return True

    def restamp_for_new_epoch(self, tp: TopicPartition, queued: List[ProducerBatch]) -> None:
        """After a bump, a partition whose in-flight work all failed restarts at 0;
        batches queued for retry get new sequences in order (header rewrite only)."""
        state = self.partition(tp)
        self._reset_partition(state)
        # ``queued`` are the partition's live in-flight batches: they *replace* the list
        # (appending would leave each twice; the first copy, once acknowledged, would
        # stay at the head and block every later retry of the partition).
        state.in_flight = []
        for batch in queued:
            base = state.next_sequence
            batch.set_producer_state(self.producer_id, self.epoch, base, batch.transactional)
            state.next_sequence = increment_sequence(base, batch.record_count)
            state.in_flight.append(batch)
