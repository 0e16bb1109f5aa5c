"""What happens to a batch once its Produce request is answered (Java's
``Sender.completeBatch``/``failBatch`` and ``TransactionManager.canRetry``).

Per partition of a response: success completes the batch's result (offset,
LogAppendTime); DUPLICATE_SEQUENCE is a success whose offset is unknown (KIP-98);
MESSAGE_TOO_LARGE splits the batch and retries the pieces; errors that say the
metadata is stale refresh it, or follow the broker's leader hint at once (KIP-951);
retriable errors re-enqueue the batch (same bytes, same sequence) until retries or
``delivery.timeout.ms`` run out; sequence errors follow the idempotence rules
(KIP-98, KIP-360); everything else fails the batch with its typed error.

Runs on the I/O thread only.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.batch import ProducerBatch
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.metadata import Broker, Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.transactions import TransactionManager
from kprod.errors import (
    BrokerError, DuplicateSequenceError, InvalidMetadataError, InvalidProducerEpochError,
    KafkaError, KafkaTimeoutError, OutOfOrderSequenceError, ProducerFencedError,
    RecordTooLargeError, TransactionAbortableError, UnknownProducerIdError, error_for_code,
)

log = logging.getLogger("kprod.sender")

# Inside a transaction these end the transaction instead of being retried (Java
# TransactionManager): fencing is fatal, the rest make it abortable.
_TRANSACTION_ENDING = (OutOfOrderSequenceError, UnknownProducerIdError,
                       InvalidProducerEpochError, ProducerFencedError,
                       TransactionAbortableError)
_FENCED = (InvalidProducerEpochError, ProducerFencedError)


class ProduceResponseHandler:
    def __init__(self, config, metadata: Metadata, accumulator: RecordAccumulator,
                 idempotence: Optional[IdempotenceState], metrics: ProducerMetrics,
                 transactions: Optional[TransactionManager],
                 stopping: Callable[[], bool]) -> None:
        self.metadata = metadata
        self.acc = accumulator
        self.idem = idempotence
        self.txn = transactions
        self.metrics = metrics
        self.stopping = stopping              # closing forcefully, or a fatal error
        self.retries = config["retries"]
        self.delivery_timeout_ms = config["delivery.timeout.ms"]
        self.transactional_id = transactions.transactional_id if transactions else None
        # MESSAGE_TOO_LARGE splits (Java's batch-split-total), and per topic what the
        # broker's size limit is known to be (wire bytes; only for topics that had a
        # rejection).
        self.batch_split_total = 0
        self._size_bounds: Dict[str, _SizeBounds] = {}

    # -- a whole response ------------------------------------------------------------
    def handle(self, node_id: int, batches: List[ProducerBatch],
               response: Optional[Any],    # kprod._native.produce_response_types.ProduceResponse
               error: Optional[BaseException], sent_ms: float, now: float,
               names_by_id: Optional[Dict[int, str]] = None) -> None:
        """``names_by_id``: the request's topic names by their ids' ints (Produce v13
        answers by id only)."""
        if error is not None:
            for batch in batches:
                self.fail_or_retry(batch, error, now, unknown_fate=True)
            self.metadata.request_update()
            return
        self.metrics.record_latency(now - sent_ms, node_id)
        if response is None:   # acks=0: no answer; complete with offset -1 (as Java)
            for batch in batches:
                self.complete_batch(batch, -1, -1)
            return
        self.metrics.record_throttle(response.throttle_time_ms)   # KIP-219 quota throttling
        results = {}
        for topic in response.responses:
            name = topic.name
            if not name and names_by_id:
                # Keyed by the id's int: hashing a UUID is a Python call.
                name = names_by_id.get(topic.topic_id.int, "")
            for p in topic.partition_responses:
                results[(name, p.index)] = p
        endpoints: Optional[Dict[int, Broker]] = None     # KIP-951, built when needed
        for batch in batches:
            p = results.get(batch.tp)
            if p is None:
                self.fail_or_retry(batch, KafkaError(
                    f"Produce response from broker {node_id} lacks {batch.tp}"), now, True)
                continue
            code = p.error_code
            if code == 0:
                self.complete_batch(batch, p.base_offset, p.log_append_time_ms)
                continue
            err = error_for_code(code, _broker_message(p))
            if isinstance(err, DuplicateSequenceError):
                # The broker has this batch already (KIP-98): a success, offset unknown.
                self.complete_batch(batch, -1, -1)
                continue
            moved = False
            if isinstance(err, InvalidMetadataError):
                leader = p.current_leader
                if endpoints is None:
                    endpoints = {e.node_id: Broker(e.node_id, e.host, e.port, e.rack)
                                 for e in response.node_endpoints or ()}
                moved = leader.leader_id >= 0 and self.metadata.update_leader(
                    batch.tp, leader.leader_id, leader.leader_epoch, endpoints)
                if not moved:
                    self.metadata.request_update()
            self.handle_error(batch, err, now, leader_moved=moved)

    # -- one partition's error ---------------------------------------------------------
    def handle_error(self, batch: ProducerBatch, err: BrokerError, now: float,
                     leader_moved: bool = False) -> None:
        """``leader_moved``: the response named the partition's new leader (KIP-951), so
        a retry goes there at once, without the retry backoff."""
        idem = self.idem
        if isinstance(err, RecordTooLargeError):
            self._message_too_large(batch, err, now)
            return
        if self.txn is not None:
            if isinstance(err, OutOfOrderSequenceError) and self._gap_being_filled(batch) \
                    and self.can_retry(batch, now):
                # An earlier batch of the partition is still being retried or was split
                # (the broker never wrote it): retry behind it, in sequence order (Java
                # TransactionManager.canRetry), instead of dooming the transaction.
                self._reenqueue(batch, now, leader_moved)
                return
            if isinstance(err, _TRANSACTION_ENDING):
                if isinstance(err, _FENCED):
                    err = ProducerFencedError(
                        f"transactional.id {self.transactional_id!r} was fenced by a newer "
                        f"producer ({err})")
                    self.txn.fatal(err)
                self.fail_batch(batch, err, unknown_fate=False)
                return
        if idem is not None and isinstance(err, (OutOfOrderSequenceError,
                                                 UnknownProducerIdError)):
            state = idem.partition(batch.tp)
            first_unacked = (state.last_acked_sequence + 1) & 0x7FFFFFFF \
                if state.last_acked_sequence >= 0 else 0
            if not (isinstance(err, OutOfOrderSequenceError)
                    and batch.base_sequence != first_unacked and not state.unresolved):
                # The broker lost our state (UNKNOWN_PRODUCER_ID, KAFKA-5793) or really
                # misses the batch before this one: reset sequences with a new epoch
                # (KIP-360) and retry. (Otherwise an earlier batch of this partition
                # failed first and its retry fills the gap: bumping the epoch would
                # needlessly restamp every in-flight batch.)
                idem.request_epoch_bump(batch.tp)
            if self.can_retry(batch, now):
                self._reenqueue(batch, now, leader_moved)
                return
        elif idem is not None and isinstance(err, InvalidProducerEpochError):
            idem.request_epoch_bump(batch.tp)
            if self.can_retry(batch, now):
                self._reenqueue(batch, now, leader_moved)
                return
        elif err.retriable and self.can_retry(batch, now):
            self.metrics.record_retry(batch.tp[0], batch.record_count)
            self._reenqueue(batch, now, leader_moved)
            return
        self.fail_batch(batch, err, unknown_fate=False)

    def _reenqueue(self, batch: ProducerBatch, now: float, leader_moved: bool) -> None:
        self.acc.reenqueue(batch, now)
        if leader_moved:
            batch.backoff_ms = 0

    def _gap_being_filled(self, batch: ProducerBatch) -> bool:
        """Every batch of the partition sent before this one is still live (queued for
        retry or in flight), so the sequence gap the broker saw will be filled."""
        if self.idem is None or not batch.has_sequence:
            return False
        state = self.idem.partition(batch.tp)
        if state.unresolved:
            return False
        try:
            at = state.in_flight.index(batch)
        except ValueError:
            return False
        earlier = state.in_flight[:at]
        return bool(earlier) and all(b.final_state is None for b in earlier)

    def _message_too_large(self, batch: ProducerBatch, err: BaseException,
                           now: float) -> None:
        """MESSAGE_TOO_LARGE: split the batch and retry the pieces (Java
        Sender.completeBatch -> RecordAccumulator.splitAndReenqueue); a single record
        fails with RecordTooLargeError.

        Java splits into batch.size pieces, which loops for ever when the topic's
        max.message.bytes is below batch.size. Here no piece gets more than half the
        records (so the recursion ends at single records) nor more bytes than
        min(batch.size, what the broker is known to accept for the topic: the largest
        batch it accepted, at least half the smallest it rejected). A split is not a
        retry (attempts and retries untouched, as Java); delivery.timeout.ms still
        counts from the big batch's creation."""
        topic = batch.tp[0]
        size = len(batch.payload) if batch.payload is not None else batch.estimated_size()
        bounds = self._size_bounds.setdefault(topic, _SizeBounds())
        bounds.rejected(size)
        count = batch.record_count
        expired = now - batch.created_ms >= self.delivery_timeout_ms
        if count > 1 and batch.final_state is None and not expired and not self.stopping():
            max_bytes = min(self.acc.batch_size, max(bounds.accepted,
                                                     (bounds.smallest_rejected or 0) // 2))
            idem = self.idem
            stamp = None if idem is None else (
                lambda pieces: idem.take_over_split(batch, pieces))
            try:
                pieces = self.acc.split_and_reenqueue(batch, max_bytes, (count + 1) // 2,
                                                      now, stamp)
            except Exception:   # never expected: fail the batch with the broker's error
                log.exception("Could not split the batch rejected as too large for %s-%d",
                              *batch.tp)
            else:
                self.batch_split_total += 1
                self.acc.batch_done(batch)
                batch.retire_split()
                log.warning("Produce to %s-%d rejected a batch of %d records (%d bytes) as "
                            "too large (MESSAGE_TOO_LARGE): split into %d batches of <= %d "
                            "records, retrying", topic, batch.tp[1], count, size,
                            len(pieces), (count + 1) // 2)
                return
        if count == 1:
            known = ""
            if bounds.accepted:
                known = (f"; batches of up to {bounds.accepted} bytes were accepted for "
                         f"this topic, so its limit is between {bounds.accepted} and "
                         f"{(bounds.smallest_rejected or 0) - 1}")
            broker = getattr(err, "message", None)
            err = RecordTooLargeError(
                f"the record to {topic}-{batch.tp[1]} is {size} bytes as a one-record batch, "
                f"larger than the broker accepts for the topic (topic max.message.bytes or "
                f"broker message.max.bytes){known}" + (f"; broker: {broker}" if broker else ""))
        elif expired:
            err = self.expiry_error(batch, now, err)
        self.fail_batch(batch, err, unknown_fate=False)

    # -- outcomes (also used by the Sender's expiry and aborts) ------------------------
    def can_retry(self, batch: ProducerBatch, now: float) -> bool:
        return (batch.attempts < self.retries
                and now - batch.created_ms < self.delivery_timeout_ms
                and not self.stopping())

    def fail_or_retry(self, batch: ProducerBatch, error: BaseException, now: float,
                      unknown_fate: bool) -> None:
        if self.can_retry(batch, now):
            self.metrics.record_retry(batch.tp[0], batch.record_count)
            self.acc.reenqueue(batch, now)
            return
        if now - batch.created_ms >= self.delivery_timeout_ms:
            error = self.expiry_error(batch, now, error)
        self.fail_batch(batch, error, unknown_fate)

    def expiry_error(self, batch: ProducerBatch, now: float,
                     cause: Optional[BaseException] = None) -> KafkaTimeoutError:
        return KafkaTimeoutError(
            f"Expiring {batch.record_count or batch.builder.num_records} record(s) for "
            f"{batch.tp[0]}-{batch.tp[1]}: {now - batch.created_ms:.0f} ms has passed since "
            f"batch creation (delivery.timeout.ms={self.delivery_timeout_ms})"
            + (f"; last error: {cause}" if cause else ""))

    def complete_batch(self, batch: ProducerBatch, base_offset: int,
                       log_append_time: int) -> None:
        if self._size_bounds and batch.payload is not None:
            bounds = self._size_bounds.get(batch.tp[0])
            if bounds is not None:      # the topic had a MESSAGE_TOO_LARGE: learn its limit
                bounds.accepted_batch(len(batch.payload))
        if self.idem is not None and batch.has_sequence:
            self.idem.on_success(batch, base_offset)
        self.acc.batch_done(batch)
        batch.complete(base_offset, log_append_time)

    def fail_batch(self, batch: ProducerBatch, error: BaseException,
                   unknown_fate: bool) -> None:
        if self.txn is not None:
            # A failed batch dooms its transaction (it can only be aborted), and its
            # sequence numbers leave a gap: the epoch must be bumped after the abort.
            if batch.has_sequence:
                self.txn.epoch_bump_required = True
            self.txn.abortable(error)
        elif self.idem is not None and batch.has_sequence:
            self.idem.on_failed(batch, unknown_fate)
        self.acc.batch_done(batch)
        count = batch.record_count or (batch.builder.num_records if batch.builder else 0)
        if batch.complete(-1, -1, error):
            self.metrics.record_error(batch.tp[0], count)


class _SizeBounds:
    """What a topic's size limit is known to be, from MESSAGE_TOO_LARGE answers: the
    largest batch accepted and the smallest rejected since (wire bytes)."""

    __slots__ = ("accepted", "smallest_rejected")

    def __init__(self) -> None:
        self.accepted = 0
        self.smallest_rejected: Optional[int] = None

    def rejected(self, size: int) -> None:
        if self.smallest_rejected is None or size < self.smallest_rejected:
            self.smallest_rejected = size
        if self.accepted >= size:       # the limit was lowered since: forget the old bound
            self.accepted = 0

    def accepted_batch(self, size: int) -> None:
        if size > self.accepted:
            self.accepted = size
        if self.smallest_rejected is not None and size >= self.smallest_rejected:
            self.smallest_rejected = None    # the limit was raised since


def _broker_message(partition: Any) -> Optional[str]:
    """The broker's error message, with the first per-record errors (KIP-467)."""
    message = partition.error_message or None
    record_errors = partition.record_errors or ()
    if record_errors:
        details = "; ".join(f"record {e.batch_index}: {e.batch_index_error_message}"
                            for e in record_errors[:5])
        message = f"{message or ''} ({details})".strip()
    return message
