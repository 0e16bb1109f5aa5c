# cython: language_level=3
"""The native half of ``send_many`` (kprod/bulk.py): the append loop (the checks
before it and the outcomes after it are bulk_records.pyx's). Keys and values are column_reader
Columns: each record is read in place from the caller's numpy or Arrow buffers (or
from bytes objects kprod.bulk keeps alive for the call), so no Python object is made
per record.

The append loop. A partition's batch that is already queued (open, with room: earlier
send()s appended to it) is topped up with the GIL held, exactly as send() appends: the
I/O thread may drain it at any moment, and holding the GIL makes each append atomic
against that. Every further batch of the call is opened unqueued
(RecordAccumulator.open_unqueued_batch): no other thread can see it, so records are
written into it with the GIL released; it is queued as soon as it is full (or, for the
last batch of each partition, when the loop ends). Records with headers, whose encoding
reads Python objects, are appended with the GIL held.

Partition choice is partition.pxd's (key_partition, choose_builtin, sticky_count /
sticky_appended): the same code as send().
"""
cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_RawFree, PyMem_RawRealloc
from cpython.ref cimport PyObject
from libc.stdint cimport int8_t, int32_t, int64_t
from libc.string cimport memset

from kprod._native.column_reader cimport Column, ColumnView, column_item, column_length
from kprod._native.partition cimport (
    PartitionChooser, StickyPartitionState, choose_builtin, sticky_appended, sticky_count,
)
from kprod._native.batch_builder cimport RecordBatchBuilder

from kprod._native.bulk_records import record_bound
from kprod.errors import BufferExhaustedError

# ------------------------------------------------------------------ the append loop

cdef enum:
    MODE_LOOK = 0         # look at the partition's deque: top up its open batch?
    MODE_QUEUED = 1       # topping up the deque's open batch (GIL held per record)
    MODE_UNQUEUED = 2     # filling our own, not yet queued batch (GIL released)
    MODE_OPEN_NEW = 3     # the next record needs a new batch

cdef enum:
    STOP_END = 0          # every record appended
    STOP_GIL = 1          # record i needs the GIL (another mode, or it did not fit)
    STOP_AFTER = 2        # record i-1 was appended; its batch is full or the sticky
                          # partition must switch (done with the GIL)


@cython.final
cdef class BulkAppender:
    """One send_many() call's append loop. kprod.bulk sets the inputs, calls run(),
    then reads ``segments`` (the batches the records went to), and per record
    ``out_segment``/``out_delta`` (-1 for records not queued). ``partitions`` (from
    check_records: -1 for a sticky record) is the output too: the loop writes each
    record's partition into it as it appends the record.

    An empty ``partitions`` means every record is sticky (no explicit partitions, no
    key hashing). Then nothing is written per record: the records go to their batches
    in input order, in runs (consecutive records, consecutive offset deltas, one
    segment), and run_arrays() gives each run's first record, segment and first
    delta: one entry per batch instead of 12 bytes per record (a 2M-record call's
    24 MB, which the caller would fault in fresh on every call).

    ``BulkAppender(accumulator, topic, info, chooser, count, keys, values, partitions,
    timestamps, timestamp, headers, header_extra, header_extra_all, max_block_ms,
    wakeup, on_partition)``; keys and values are column_reader Columns."""
    cdef object accumulator
    cdef object topic
    cdef Py_ssize_t num_partitions
    cdef object available
    cdef PartitionChooser chooser
    cdef StickyPartitionState sticky
    cdef Py_ssize_t count
    cdef Column keys                    # (the Columns keep their buffers alive)
    cdef Column values
    cdef const ColumnView* key_view
    cdef const ColumnView* value_view
    cdef int32_t[::1] partitions         # in: -1 sticky; out: the partition appended to
    cdef const int64_t[::1] timestamps
    cdef bint per_record_timestamps
    cdef int64_t timestamp
    cdef object headers                 # None, one list for all, or a tuple per record
    cdef bint per_record_headers
    cdef const int64_t[::1] header_extra
    cdef int64_t header_extra_all
    cdef double max_block_ms
    cdef object wakeup
    cdef object on_partition            # called once per partition, before its first append
    # Outputs.
    cdef readonly list segments         # ProducerBatch per segment
    cdef dict _segment_of               # batch -> its segment index
    cdef readonly object out_segment    # numpy int32 arrays
    cdef readonly object out_delta
    cdef int32_t[::1] _seg
    cdef int32_t[::1] _delta
    cdef readonly bint all_sticky       # no partitions given: runs instead of per record
    cdef int64_t* _run_first            # per run: first record, its segment and delta
    cdef int32_t* _run_segment
    cdef int32_t* _run_delta
    cdef Py_ssize_t _runs
    cdef Py_ssize_t _run_capacity       # reserved with the GIL before records may need it
    cdef Py_ssize_t _run_next_index     # the record, and its delta, that extend the last run
    cdef int32_t _run_next_delta
    cdef bint _run_overflow             # a run had no reserved slot (cannot happen)
    cdef readonly Py_ssize_t appended   # records appended (in order: [0, appended))
    # Per partition.
    cdef int8_t* _mode
    cdef int32_t* _current_segment
    cdef PyObject** _builder            # borrowed: _batches keeps the batch (and it the builder)
    cdef list _batches                  # the batch being written, per partition
    cdef list _builders                 # its builder (a reference of our own)
    cdef set _touched

    def __cinit__(self):
        self._mode = NULL
        self._current_segment = NULL
        self._builder = NULL
        self._run_first = NULL
        self._run_segment = NULL
        self._run_delta = NULL

    def __init__(self, accumulator, topic, info, PartitionChooser chooser, Py_ssize_t count,
                 Column keys not None, Column values not None, int32_t[::1] partitions, const int64_t[::1] timestamps,
                 int64_t timestamp, headers, const int64_t[::1] header_extra,
                 int64_t header_extra_all,
                 double max_block_ms, wakeup, on_partition):
        import numpy
        cdef Py_ssize_t n = info.num_partitions
        if n <= 0:
            raise ValueError("BulkAppender: the topic has no partitions")
        self.all_sticky = partitions.shape[0] == 0
        if (keys.view.count < count or values.view.count < count
                or (partitions.shape[0] < count and not self.all_sticky)
                or (timestamps.shape[0] and timestamps.shape[0] < count)
                or (header_extra.shape[0] and header_extra.shape[0] < count)):
            raise IndexError("BulkAppender: an input is shorter than the count")
        self.accumulator = accumulator
        self.topic = topic
        self.num_partitions = n
        self.available = info.available
        self.chooser = chooser
        self.sticky = None
        self.count = count
        self.keys = keys
        self.values = values
        self.key_view = &keys.view
        self.value_view = &values.view
        self.partitions = partitions
        self.timestamps = timestamps
        self.per_record_timestamps = timestamps.shape[0] > 0
        self.timestamp = timestamp
        self.headers = headers
        self.per_record_headers = type(headers) is tuple
        if self.per_record_headers and len(headers) < count:
            raise IndexError("BulkAppender: fewer header lists than records")
        cdef Py_ssize_t i
        for i in range(0 if self.all_sticky else count):   # they index per-partition arrays
            if partitions[i] < -1 or partitions[i] >= n:
                raise IndexError(f"BulkAppender: partition {partitions[i]} of record {i} "
                                 f"is outside -1..{n - 1}")
        self.header_extra = header_extra
        self.header_extra_all = header_extra_all
        self.max_block_ms = max_block_ms
        self.wakeup = wakeup
        self.on_partition = on_partition
        self.segments = []
        self._segment_of = {}
        # Written as records are appended ([0, appended)); kprod.bulk reads no further.
        cdef Py_ssize_t per_record = 0 if self.all_sticky else count
        self.out_segment = numpy.empty(per_record, dtype=numpy.int32)
        self.out_delta = numpy.empty(per_record, dtype=numpy.int32)
        self._seg = self.out_segment
        self._delta = self.out_delta
        self.appended = 0
        self._mode = <int8_t*>PyMem_Malloc(n * sizeof(int8_t))
        self._current_segment = <int32_t*>PyMem_Malloc(n * sizeof(int32_t))
        self._builder = <PyObject**>PyMem_Malloc(n * sizeof(PyObject*))
        if self._mode == NULL or self._current_segment == NULL or self._builder == NULL:
            raise MemoryError()
        memset(self._mode, MODE_LOOK, n * sizeof(int8_t))
        memset(self._builder, 0, n * sizeof(PyObject*))
        self._batches = [None] * n
        self._builders = [None] * n
        self._touched = set()

    def __dealloc__(self):
        PyMem_Free(self._mode)
        PyMem_Free(self._current_segment)
        PyMem_Free(self._builder)
        PyMem_RawFree(self._run_first)
        PyMem_RawFree(self._run_segment)
        PyMem_RawFree(self._run_delta)

    # -- runs (all_sticky) ------------------------------------------------------------
    cdef int _reserve_run(self) except -1:
        """Room for one more run, with the GIL: before a stretch without the GIL (its
        records all go to one batch, so they start at most one run) and before a step."""
        cdef Py_ssize_t capacity
        cdef void* grown
        if self._runs < self._run_capacity:
            return 0
        capacity = 64 if self._run_capacity == 0 else 2 * self._run_capacity
        grown = PyMem_RawRealloc(self._run_first, <size_t>capacity * sizeof(int64_t))
        if grown == NULL:
            raise MemoryError()
        self._run_first = <int64_t*>grown
        grown = PyMem_RawRealloc(self._run_segment, <size_t>capacity * sizeof(int32_t))
        if grown == NULL:
            raise MemoryError()
        self._run_segment = <int32_t*>grown
        grown = PyMem_RawRealloc(self._run_delta, <size_t>capacity * sizeof(int32_t))
        if grown == NULL:
            raise MemoryError()
        self._run_delta = <int32_t*>grown
        self._run_capacity = capacity
        return 0

    def run_arrays(self):
        """(first record int64, segment int32, first delta int32) per run, in input
        order; empty unless all_sticky. Run r holds the records from first[r] to
        first[r + 1] (the last run to ``appended``) at consecutive deltas."""
        import numpy
        cdef Py_ssize_t r
        first = numpy.empty(self._runs, dtype=numpy.int64)
        segment = numpy.empty(self._runs, dtype=numpy.int32)
        delta = numpy.empty(self._runs, dtype=numpy.int32)
        cdef int64_t[::1] f = first
        cdef int32_t[::1] sg = segment
        cdef int32_t[::1] d = delta
        for r in range(self._runs):
            f[r] = self._run_first[r]
            sg[r] = self._run_segment[r]
            d[r] = self._run_delta[r]
        return first, segment, delta

    # -- helpers (GIL held) ---------------------------------------------------------
    cdef Py_ssize_t _sticky_partition(self) except -1:
        """The topic's sticky partition now (choosing one if it has none)."""
        cdef Py_ssize_t p
        state = choose_builtin(self.chooser, self.topic, None, None, self.num_partitions,
                               self.available, self.sticky, &p)
        self.sticky = state
        return p

    cdef int _segment(self, object batch, Py_ssize_t p) except -1:
        seg = self._segment_of.get(batch)
        if seg is None:
            seg = len(self.segments)
            self.segments.append(batch)
            self._segment_of[batch] = seg
        self._current_segment[p] = seg
        return 0

    cdef int _set_batch(self, Py_ssize_t p, object batch, int mode) except -1:
        if batch is None:
            self._batches[p] = None
            self._builders[p] = None
            self._builder[p] = NULL
        else:
            builder = batch.builder
            self._batches[p] = batch
            self._builders[p] = builder
            self._builder[p] = <PyObject*>builder
            self._segment(batch, p)
        self._mode[p] = mode
        return 0

    cdef int _look(self, Py_ssize_t p) except -1:
        """MODE_LOOK: the deque's last batch, if it is open, else a new batch."""
        tp = (self.topic, p)
        if tp not in self._touched:
            self._touched.add(tp)
            if self.on_partition is not None:
                self.on_partition(tp)
        q = self.accumulator.queue(tp)
        batches = q.batches
        if batches:
            last = batches[len(batches) - 1]
            if _open(last):
                return self._set_batch(p, last, MODE_QUEUED)
        return self._set_batch(p, None, MODE_OPEN_NEW)

    cdef int _queue(self, Py_ssize_t p, bint full) except -1:
        """Queue partition p's unqueued batch (it is full, or the call ends)."""
        batch = self._batches[p]
        self._set_batch(p, None, MODE_OPEN_NEW)
        try:
            self.accumulator.queue_batch(batch)
        except BaseException as exc:
            # Closed meanwhile: nobody else can complete a batch no deque holds.
            batch.complete(-1, -1, exc)
            raise
        if full:
            self.wakeup()
        return 0

    cpdef int queue_all(self) except -1:
        """Queue every unqueued batch (before blocking on memory, and at the end). All
        are queued even if one fails; the first error is raised."""
        cdef Py_ssize_t p
        first = None
        for p in range(self.num_partitions):
            if self._mode[p] == MODE_UNQUEUED:
                try:
                    self._queue(p, False)
                except BaseException as exc:
                    if first is None:
                        first = exc
        if first is not None:
            raise first
        return 0

    cdef int _open_new(self, Py_ssize_t i, Py_ssize_t p) except -1:
        """A new unqueued batch for partition p, sized for record i. Memory first
        without waiting; if there is none, wait up to max.block.ms, as send() does.
        The memory comes back as the I/O thread completes queued batches. Our own
        unqueued batches are queued first if they hold half of buffer.memory or more
        (else the wait could only end in a timeout), and after half the wait in any
        case (other threads' unqueued batches may hold the rest)."""
        cdef int64_t extra = self.header_extra[i] if self.header_extra.shape[0] \
            else self.header_extra_all
        cdef Py_ssize_t q, held = 0
        size = record_bound(column_length(self.key_view, i),
                            column_length(self.value_view, i), extra)
        tp = (self.topic, p)
        try:
            batch = self.accumulator.open_unqueued_batch(tp, size, 0.0)
        except BufferExhaustedError:
            for q in range(self.num_partitions):
                if self._mode[q] == MODE_UNQUEUED:
                    held += (<RecordBatchBuilder>self._builder[q])._capacity
            if 2 * (held + size) >= self.accumulator.pool.total_memory:
                self.queue_all()
                batch = self.accumulator.open_unqueued_batch(tp, size, self.max_block_ms)
            else:
                try:
                    batch = self.accumulator.open_unqueued_batch(tp, size,
                                                                 self.max_block_ms / 2)
                except BufferExhaustedError:
                    self.queue_all()
                    batch = self.accumulator.open_unqueued_batch(tp, size,
                                                                 self.max_block_ms / 2)
        return self._set_batch(p, batch, MODE_UNQUEUED)

    cdef inline int64_t _ts(self, Py_ssize_t i) noexcept nogil:
        return self.timestamps[i] if self.per_record_timestamps else self.timestamp

    cdef int _step(self, Py_ssize_t i) except -1:
        """Append record i with the GIL held (any mode; headers too)."""
        cdef Py_ssize_t p = self._fixed_partition(i)
        cdef bint sticky = p < 0
        cdef int32_t delta
        cdef Py_ssize_t before, after, key_length, value_length
        cdef const char* key
        cdef const char* value
        cdef RecordBatchBuilder builder
        cdef int mode
        if sticky:
            p = self._sticky_partition()
        if self.all_sticky:
            self._reserve_run()
        headers = None
        if self.headers is not None:
            headers = self.headers[i] if self.per_record_headers else self.headers
            if not headers:
                headers = None
        while True:
            mode = self._mode[p]
            if mode == MODE_LOOK:
                self._look(p)
                continue
            if mode == MODE_OPEN_NEW:
                self._open_new(i, p)
                continue
            batch = self._batches[p]
            if mode == MODE_QUEUED and not _still_last_open(self.accumulator, self.topic,
                                                            p, batch):
                self._set_batch(p, None, MODE_LOOK)   # drained meanwhile: look again
                continue
            builder = <RecordBatchBuilder>self._builders[p]
            before = builder._estimated()
            key_length = column_item(self.key_view, i, &key)
            value_length = column_item(self.value_view, i, &value)
            delta = builder.append_raw(self._ts(i), key, key_length, value, value_length,
                                       headers)
            if delta >= 0:
                break
            # Full: queue ours, leave the queued one; the record goes to a new batch.
            if mode == MODE_UNQUEUED:
                self._queue(p, True)
            else:
                self._set_batch(p, None, MODE_OPEN_NEW)
        after = builder._estimated()
        self._record(i, p, delta)
        self._after_append(p, after - before, builder._count > 0 and
                           after >= builder._write_limit, sticky)
        return 0

    cdef inline Py_ssize_t _fixed_partition(self, Py_ssize_t i) noexcept nogil:
        """Record i's partition from check_records (-1: sticky)."""
        return -1 if self.all_sticky else self.partitions[i]

    cdef inline void _record(self, Py_ssize_t i, Py_ssize_t p, int32_t delta) noexcept nogil:
        cdef int32_t segment = self._current_segment[p]
        cdef Py_ssize_t r
        if not self.all_sticky:
            self._seg[i] = segment
            self._delta[i] = delta
            self.partitions[i] = <int32_t>p
            return
        r = self._runs - 1
        if not (r >= 0 and self._run_segment[r] == segment and self._run_next_index == i
                and self._run_next_delta == delta):
            r = self._runs
            if r >= self._run_capacity:      # not reserved: never write past the end
                self._run_overflow = True
                return
            self._run_first[r] = i
            self._run_segment[r] = segment
            self._run_delta[r] = delta
            self._runs = r + 1
        self._run_next_index = i + 1
        self._run_next_delta = delta + 1

    cdef int _after_append(self, Py_ssize_t p, Py_ssize_t appended, bint full,
                           bint sticky) except -1:
        """What send() does after an append: wake the I/O thread for a full batch
        (queue ours first), and the sticky partition's byte count and switch."""
        if full:
            if self._mode[p] == MODE_UNQUEUED:
                self._queue(p, True)
            else:
                self._set_batch(p, None, MODE_OPEN_NEW)
                self.wakeup()
        if sticky:
            sticky_appended(self.chooser, self.sticky, p, appended, full,
                            self.num_partitions, self.available)
        return 0

    # -- the loop without the GIL -----------------------------------------------------
    cdef Py_ssize_t _run_unlocked(self, Py_ssize_t i, Py_ssize_t sticky_partition,
                                  Py_ssize_t* produced, int* stop, Py_ssize_t* last_partition,
                                  Py_ssize_t* last_appended, bint* last_full,
                                  bint* last_switch) noexcept nogil:
        """Append records from i on into unqueued batches until one needs the GIL.
        ``produced``: the sticky partition's byte count (KIP-794), kept here while the
        GIL is released and written back by the caller; when sticky_count says the
        partition must switch, the record's bytes are left uncounted for
        sticky_appended (with the GIL) to count and switch."""
        cdef Py_ssize_t p, appended = 0, key_length, value_length
        cdef const char* key
        cdef const char* value
        cdef int32_t delta
        cdef bint sticky, full = False, switch
        while i < self.count:
            p = self._fixed_partition(i)
            sticky = p < 0
            if sticky:
                p = sticky_partition
                if p < 0:
                    break
            if self._mode[p] != MODE_UNQUEUED:
                break
            key_length = column_item(self.key_view, i, &key)
            value_length = column_item(self.value_view, i, &value)
            delta = (<RecordBatchBuilder>self._builder[p]).append_plain(
                self._ts(i), key, key_length, value, value_length, &appended, &full)
            if delta < 0:
                break          # full (or an error append_raw reports): the GIL path
            self._record(i, p, delta)
            i += 1
            switch = sticky and sticky_count(self.chooser.sticky_batch_size, produced,
                                             appended, full)
            if full or switch:
                stop[0] = STOP_AFTER
                last_partition[0] = p
                last_appended[0] = appended
                last_full[0] = full
                last_switch[0] = switch
                return i
        stop[0] = STOP_END if i >= self.count else STOP_GIL
        return i

    def run(self):
        """Append every record in order. On an error (memory not available within
        max.block.ms, the producer closed) the records before ``appended`` stay queued
        and the error is raised."""
        cdef Py_ssize_t i = 0, sticky_partition, produced = 0, last_partition = 0
        cdef Py_ssize_t last_appended = 0
        cdef bint last_full = False, last_switch = False
        cdef int stop = STOP_GIL
        cdef bint unlocked = self.headers is None
        cdef bint has_sticky = self.all_sticky
        cdef StickyPartitionState state
        for i in range(0 if self.all_sticky else self.count):
            if self.partitions[i] < 0:
                has_sticky = True
                break
        i = 0
        try:
            while i < self.count:
                if unlocked:
                    sticky_partition = self._sticky_partition() if has_sticky else -1
                    state = self.sticky
                    if state is not None:
                        produced = state.produced_bytes
                    if self.all_sticky:
                        self._reserve_run()
                    with nogil:
                        i = self._run_unlocked(i, sticky_partition, &produced, &stop,
                                               &last_partition, &last_appended, &last_full,
                                               &last_switch)
                    if state is not None:
                        state.produced_bytes = produced
                    self.appended = i
                    if stop == STOP_AFTER:
                        if last_full:
                            self._queue(last_partition, True)
                        if last_switch:
                            sticky_appended(self.chooser, state, last_partition,
                                            last_appended, last_full, self.num_partitions,
                                            self.available)
                        continue
                    if stop == STOP_END:
                        break
                self._step(i)
                i += 1
                self.appended = i
        finally:
            self.queue_all()
        if self._run_overflow:
            raise AssertionError("BulkAppender: a run without a reserved slot")
        return None


cdef inline bint _open(object batch):
    """An open batch (the only kind appendable; a closed one is a retry)."""
    builder = batch.builder
    return builder is not None and batch.payload is None and not builder.is_closed


cdef bint _still_last_open(object accumulator, object topic, Py_ssize_t p,
                           object batch) except -1:
    q = accumulator.queues.get((topic, p))
    if q is None:
        return False
    batches = q.batches
    return bool(batches) and batches[len(batches) - 1] is batch and _open(batch)
