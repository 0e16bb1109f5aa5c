"""What a send_many() call gives back: one :class:`BulkFuture` for the whole call and
its :class:`BulkMetadata`, with no Python object per record on the way out.

The future watches each batch (segment) holding the call's records, through one done
callback per batch (a split batch's pieces too, after MESSAGE_TOO_LARGE), and
completes when the last is known. Where each record went is kept as a placement:
:class:`PerRecordPlacement` (a segment, delta and partition per record) or, when every
record was sticky, :class:`RunPlacement` (runs of consecutive records in one
segment), so the per-record arrays are built only when something reads them.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np

from kprod._native.bulk_records import resolve_records
from kprod.errors import KafkaTimeoutError

log = logging.getLogger("kprod.producer")

__all__ = ["BulkFuture", "BulkMetadata", "PerRecordPlacement", "RunPlacement"]


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


class PerRecordPlacement:
    """Where each record of a call went: its segment and offset delta (the queued
    records) and its partition (every record, -1: never queued)."""

    def __init__(self, segment: np.ndarray, delta: np.ndarray, partitions: np.ndarray
                 ) -> None:
        self._segment, self._delta, self._partitions = segment, delta, partitions

    def segment_delta(self) -> Tuple[np.ndarray, np.ndarray]:
        return self._segment, self._delta

    def partitions(self) -> np.ndarray:
        return self._partitions


class RunPlacement:
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
                 placement: "PerRecordPlacement | RunPlacement", timestamps: np.ndarray,
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
