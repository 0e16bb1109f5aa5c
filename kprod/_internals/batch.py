"""ProducerBatch: one partition's batch from first append to its final outcome.

Life: open (records appended into the native builder's pooled buffer) ->
closed at drain (header, CRC, compression, once) -> in flight -> completed
(offsets or error) or re-queued for retry with the *same* bytes (idempotence
needs the same producer id, epoch and sequence on a retry). The pooled buffer
is released only when the batch is completed; the pool itself keeps the memory
away from reuse while a request still holds a view of it (KAFKA-19012).

A batch the broker rejects with MESSAGE_TOO_LARGE is split (:func:`split_batch`,
Java ``ProducerBatch.split``): its records are read back from the built (maybe
compressed) bytes and re-encoded into smaller batches; the big batch's result
routes every record future to its piece, and the big batch leaves with
:meth:`ProducerBatch.retire_split` (buffer released, futures untouched).
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from kprod._native.appender import BatchCore
from kprod._native.bufferpool import standalone_buffer
from kprod._native.batch_builder import RecordBatchBuilder
from kprod._native.batch_reader import read_batches
from kprod._native.record_encoding import record_size_upper_bound
from kprod._internals.completion import BatchResult

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
        if self.payload is None and self.builder is not None:
            self.record_count = self.builder.num_records
        self._release()
        self.result.complete(base_offset, log_append_time, error)
        return True

    def _release(self) -> None:
        """Drop our views; the pool takes the memory back once no view is left
        (a request still being written keeps its own views: KAFKA-19012)."""
        self.in_flight = False
        buffer, self.buffer = self.buffer, None
        builder, self.builder = self.builder, None
        self.payload = None
        if builder is not None:
            builder.release_buffer()
        elif buffer is not None:
            buffer.release()

    def retire_split(self) -> None:
        """The batch was split (its result now routes to the pieces): release the buffer
        once, complete nothing (the pieces complete the futures)."""
        if self.final_state is not None:
            return
        self.final_state = "split"
        self._release()

    def __repr__(self) -> str:
        return (f"<ProducerBatch {self.tp[0]}-{self.tp[1]} records={self.record_count} "
                f"seq={self.base_sequence} attempts={self.attempts}>")


def split_batch(batch: ProducerBatch, max_bytes: int, max_records: int, codec: int,
                compression_level: Optional[int]) -> List[ProducerBatch]:
    """Split a closed batch the broker rejected as too large (MESSAGE_TOO_LARGE).

    Java ``ProducerBatch.split``: the records are read back from the built batch
    (decompressed when needed) and appended, in order, to new batches of at most
    ``max_bytes`` (uncompressed estimate; the first record of a piece always fits)
    and at most ``max_records`` records each; timestamps, keys, values (null too) and
    headers are kept. The pieces keep the big batch's creation time (so
    ``delivery.timeout.ms`` still counts from the first append), are closed (never
    appended to) and get no producer state here (the caller stamps sequences). Their
    buffers are standalone, not from the pool (as Java, so the I/O thread never
    blocks on buffer.memory). Finally the big batch's result is routed to the
    pieces' results (each future now resolves through its piece).

    The big batch itself is left untouched (the caller retires it).
    """
    if max_records < 1:
        raise ValueError("split_batch: max_records must be >= 1")
    payload = batch.payload
    if payload is None:
        raise ValueError("split_batch: the batch is not closed")
    (parsed,) = read_batches(payload, verify_crc=False)
    records = parsed.records
    if len(records) < 2:
        raise ValueError("split_batch: a batch of one record cannot be split")
    pieces: List[ProducerBatch] = []
    starts: List[int] = []
    builder = None
    for delta, record in enumerate(records):
        key, value, headers = record.key, record.value, record.headers or None
        if builder is not None and (builder.num_records >= max_records or builder.append(
                record.timestamp, key, value, headers) < 0):
            builder = None
        if builder is None:
            size = max(max_bytes, record_size_upper_bound(key, value, headers))
            buffer = standalone_buffer(size)
            builder = RecordBatchBuilder(buffer, compression=codec,
                                         compression_level=compression_level,
                                         write_limit=max_bytes)
            piece = ProducerBatch(batch.tp, builder, buffer, batch.created_ms)
            pieces.append(piece)
            starts.append(delta)
            builder.append(record.timestamp, key, value, headers)
    for piece in pieces:
        piece.close()
    batch.result.split(starts, [piece.result for piece in pieces])
    return pieces
