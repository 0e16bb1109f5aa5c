# cython: language_level=3
"""The per-record half of ``send()``: append to a partition's open batch and
make the record's future, in one C call.

Atomicity: ``try_append`` runs entirely under the GIL and calls no Python
code (only C-API calls on bytes, lists and slotted attributes), so it is
atomic with respect to other Python threads; the accumulator's slow paths,
which do run Python code, hold the partition lock *and* re-check under it.
A batch in a partition's deque is either open (appendable, always the last)
or closed (a retry, never appended to); ``try_append`` appends only to an
open last batch.
"""
cimport cython
from cpython.list cimport PyList_Append
from libc.stdint cimport int32_t, int64_t

from kprod._native.records cimport RecordBatchBuilder

from kprod.errors import KafkaTimeoutError
from kprod.record import RecordMetadata

cdef object _RecordMetadata = RecordMetadata
cdef int _SEND_CALLBACK = 0


cdef class BatchCore:
    """The fields of a ProducerBatch that the append fast path reads, as C fields
    (``kprod._internals.batch.ProducerBatch`` extends it)."""
    cdef public object builder     # RecordBatchBuilder while open, None once completed
    cdef public object payload     # memoryview of the closed batch, None while open
    cdef public object result      # kprod.future.BatchResult


@cython.final
@cython.freelist(64)
cdef class RecordFuture:
    """The future ``send()`` returns; resolves to :class:`RecordMetadata`.

    One per record, tiny: the batch's shared result plus the record's offset
    delta, timestamp and sizes. Waiting uses the batch's single Event.
    """
    cdef readonly object _batch          # kprod.future.BatchResult
    cdef readonly int32_t _delta
    cdef readonly int64_t _timestamp
    cdef readonly Py_ssize_t _key_size
    cdef readonly Py_ssize_t _value_size

    def __init__(self, batch, int32_t delta, int64_t timestamp, Py_ssize_t key_size,
                 Py_ssize_t value_size):
        self._batch = batch
        self._delta = delta
        self._timestamp = timestamp
        self._key_size = key_size
        self._value_size = value_size

    def done(self):
        return self._batch._done

    def cancelled(self):
        return False

    def cancel(self):
        """Records cannot be taken back once appended (as in Java)."""
        return False

    def running(self):
        return not self._batch._done

    def metadata(self):
        """RecordMetadata of a completed, successful record."""
        batch = self._batch
        cdef int64_t base = batch.base_offset
        cdef int64_t append_time = batch.log_append_time
        return _RecordMetadata(batch.topic, batch.partition,
                               base + self._delta if base >= 0 else -1,
                               append_time if append_time >= 0 else self._timestamp,
                               self._key_size, self._value_size)

    def get(self, timeout=None):
        """Wait for the outcome; return the metadata or raise the record's error."""
        batch = self._batch
        if not batch._done and not batch.wait(timeout):
            raise KafkaTimeoutError(
                f"Record to {batch.topic}-{batch.partition} not acknowledged within "
                f"{timeout} s (it is still pending; the producer keeps trying until "
                "delivery.timeout.ms)")
        if batch.error is not None:
            raise batch.error
        return self.metadata()

    def result(self, timeout=None):
        """Alias of :meth:`get` (concurrent.futures style)."""
        return self.get(timeout)

    def exception(self, timeout=None):
        batch = self._batch
        if not batch._done and not batch.wait(timeout):
            raise KafkaTimeoutError(f"Record to {batch.topic}-{batch.partition} still "
                                    f"pending after {timeout} s")
        return batch.error

    def add_done_callback(self, fn):
        """Call ``fn(future)`` when done (on the I/O thread, or now if already done)."""
        if not self._batch.add_done_callback(fn, self):
            fn(self)

    def __repr__(self):
        batch = self._batch
        if not batch._done:
            state = "pending"
        elif batch.error is not None:
            state = "error " + type(batch.error).__name__
        else:
            state = "done"
        return f"<RecordFuture {batch.topic}-{batch.partition} {state}>"


@cython.binding(False)      # a plain builtin: CPython's fast call path
def try_append(batches, int64_t timestamp, key, value, headers, callback,
               Py_ssize_t key_size, Py_ssize_t value_size):
    """Append to the last batch of ``batches`` if it is open and has room.

    Returns ``(future, appended_bytes, batch_full)`` or None (no open batch, or
    it is full: the caller opens a new batch under the partition lock).
    """
    cdef Py_ssize_t n = len(batches)
    if n == 0:
        return None
    cdef BatchCore batch = <BatchCore?>batches[n - 1]   # no negative index: wraparound is off
    if batch.builder is None or batch.payload is not None:
        return None
    cdef RecordBatchBuilder builder = <RecordBatchBuilder?>batch.builder
    if builder._closed or builder._data == NULL:
        return None
    cdef Py_ssize_t before = builder._estimated()
    cdef int32_t delta = builder.append_object(timestamp, key, value, headers)
    if delta < 0:
        return None
    cdef RecordFuture future = RecordFuture.__new__(RecordFuture)
    future._batch = batch.result
    future._delta = delta
    future._timestamp = timestamp
    future._key_size = key_size
    future._value_size = value_size
    if callback is not None:
        PyList_Append(batch.result._callbacks, (_SEND_CALLBACK, callback, future))
    cdef Py_ssize_t after = builder._estimated()
    return (future, after - before,
            builder._count > 0 and after >= builder._write_limit)
