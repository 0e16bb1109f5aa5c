"""ProducerBatch: one partition's batch from first append to its final outcome.

Life: open (records appended into the native builder's pooled buffer) ->
closed at drain (header, CRC, compression, once) -> in flight -> completed
(offsets or error) or re-queued for retry with the *same* bytes (idempotence
needs the same producer id, epoch and sequence on a retry). The pooled buffer
is released only when the batch is completed; the pool itself keeps the memory
away from reuse while a request still holds a view of it (KAFKA-19012).
"""
from __future__ import annotations

from typing import Optional, Tuple

from kprod._native.appender import BatchCore
from kprod.future import BatchResult

NO_SEQUENCE = -1
INT32_MAX = 2**31 - 1


def increment_sequence(sequence: int, increment: int) -> int:
    """Java ``DefaultRecordBatch.incrementSequence``: wraps to 0, never negative."""
    if sequence > INT32_MAX - increment:
        return increment - (INT32_MAX - sequence) - 1
    return sequence + increment


class ProducerBatch(BatchCore):
    # builder, payload and result live in BatchCore (C fields the append fast path reads).
    __slots__ = (
        "tp", "buffer", "created_ms", "last_attempt_ms", "attempts",
        "producer_id", "producer_epoch", "base_sequence", "transactional",
        "record_count", "in_flight", "final_state", "backoff_ms",
    )

    def __init__(self, tp: Tuple[str, int], builder, buffer, now_ms: float) -> None:
        self.tp = tp
        self.builder = builder
        self.buffer = buffer
        self.result = BatchResult(tp[0], tp[1])
        self.created_ms = now_ms
        self.last_attempt_ms = now_ms
        self.attempts = 0
        self.payload: Optional[memoryview] = None      # bytes on the wire, once closed
        self.producer_id = -1
        self.producer_epoch = -1
        self.base_sequence = NO_SEQUENCE
        self.transactional = False
        self.record_count = 0
        self.in_flight = False
        self.final_state: Optional[str] = None
        self.backoff_ms = 0.0          # wait before the next attempt (set on retry)

    @property
    def is_closed(self) -> bool:
        return self.payload is not None

    @property
    def has_sequence(self) -> bool:
        return self.base_sequence != NO_SEQUENCE

    @property
    def last_sequence(self) -> int:
        return increment_sequence(self.base_sequence, self.record_count - 1)

    def estimated_size(self) -> int:
        if self.payload is not None:
            return len(self.payload)
        return self.builder.estimated_size_in_bytes

    def close(self) -> memoryview:
        """Finish the batch (once): header, compression, CRC."""
        if self.payload is None:
            self.record_count = self.builder.num_records
            self.payload = self.builder.close()
        return self.payload

    def set_producer_state(self, producer_id: int, epoch: int, base_sequence: int,
                           transactional: bool) -> None:
        """Stamp pid/epoch/sequence into the closed batch (header rewrite + CRC only)."""
        self.close()
        self.producer_id = producer_id
        self.producer_epoch = epoch
        self.base_sequence = base_sequence
        self.transactional = transactional
        self.builder.restamp(producer_id, epoch, base_sequence, transactional)

    def complete(self, base_offset: int, log_append_time: int = -1,
                 error: Optional[BaseException] = None) -> bool:
        """Final outcome; frees the buffer. False if it was already final."""
        if self.final_state is not None:
            return False
        self.final_state = "failed" if error is not None else "succeeded"
        self.in_flight = False
        buffer, self.buffer = self.buffer, None
        if self.payload is None and self.builder is not None:
            self.record_count = self.builder.num_records
        # Drop our views; the pool takes the memory back once no view is left
        # (a request still being written keeps its own views: KAFKA-19012).
        builder, self.builder = self.builder, None
        self.payload = None
        if builder is not None:
            builder.release_buffer()
        elif buffer is not None:
            buffer.release()
        self.result.complete(base_offset, log_append_time, error)
        return True

    def __repr__(self) -> str:
        return (f"<ProducerBatch {self.tp[0]}-{self.tp[1]} records={self.record_count} seq={self.base_sequence} attempts={self.attempts}>")
