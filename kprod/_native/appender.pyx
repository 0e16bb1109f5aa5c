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
from cpython.object cimport PyCallable_Check
from cpython.unicode cimport PyUnicode_GET_LENGTH
from libc.stdint cimport int32_t, int64_t

from kprod._native.batch_builder cimport RecordBatchBuilder

from kprod.errors import KafkaTimeoutError
from kprod.record import RecordMetadata

cdef object _RecordMetadata = RecordMetadata
cdef object _await_record = None     # kprod._internals.loop_bridge.await_record (lazy:
                                     # importing asyncio costs every sync user too)


cdef class BatchCore:
    """The fields of a ProducerBatch that the append fast path reads, as C fields
    (``kprod._internals.batch.ProducerBatch`` extends it)."""
    cdef public object builder     # RecordBatchBuilder while open, None once completed
    cdef public object payload     # memoryview of the closed batch, None while open
    cdef object _result            # kprod._internals.completion.BatchResult
    # The result's callback list, read once per record by the append: an attribute
    # lookup on the (Python) BatchResult costs more than the rest of the entry. The
    # list is only replaced (by None) when the result completes or is split, and an
    # append never reaches it then (builder None, or payload set).
    cdef object _callbacks

    @property
    def result(self):
        return self._result

    @result.setter
    def result(self, value):
        self._result = value
        self._callbacks = value._callbacks


@cython.final
@cython.freelist(64)
@cython.no_gc       # not GC-tracked: millions of live futures must not slow every
                    # collection. The only cycle (future -> batch -> its callback list
                    # -> future) is broken when the batch completes, and every batch does.
cdef class RecordFuture:
    """The future ``send()`` returns; resolves to :class:`RecordMetadata`.

    One per record, tiny: the batch's shared result plus the record's offset
    delta, timestamp and sizes. Waiting uses the batch's single Event.
    """
    cdef readonly object _batch          # kprod._internals.completion.BatchResult
    cdef readonly int32_t _delta
    cdef readonly int64_t _timestamp
    cdef readonly Py_ssize_t _key_size
    cdef readonly Py_ssize_t _value_size
    # The send() callback, while pending: the future itself is the entry in its batch's
    # callback list (no per-record GC-tracked tuple; run_callbacks clears it).
    cdef object _callback
    # The first add_done_callback(fn) while pending, the same way (run_callbacks calls
    # it with the future after the send() callback): no tuple and no lock per record.
    cdef object _done_callback

    def __init__(self, batch, int32_t delta, int64_t timestamp, Py_ssize_t key_size,
                 Py_ssize_t value_size):
        self._batch = batch
        self._delta = delta
        self._timestamp = timestamp
        self._key_size = key_size
        self._value_size = value_size

    # A batch split after MESSAGE_TOO_LARGE routes each record to the piece now holding
    # it (BatchResult.split, Java FutureRecordMetadata.chain): every method below asks
    # the record's current batch, never the one it was appended to.
    cdef object _current(self, int32_t* delta):
        batch = self._batch
        cdef int32_t d = self._delta
        while batch._split is not None:
            batch, d = batch.route(d)
        delta[0] = d
        return batch

    def done(self):
        cdef int32_t d
        return self._current(&d)._done

    def cancelled(self):
        return False

    def cancel(self):
        """Records cannot be taken back once appended (as in Java)."""
        return False

    def running(self):
        return not self.done()

    def metadata(self):
        """RecordMetadata of a completed, successful record."""
        return self._metadata()

    cdef object _metadata(self):
        cdef int32_t d
        batch = self._current(&d)
        cdef int64_t base = batch.base_offset
        cdef int64_t append_time = batch.log_append_time
        return _make_metadata(batch.topic, batch.partition, base, append_time, self, d)

    cdef object _wait(self, timeout, bint for_get):
        """The record's batch once complete (a split one completes after its pieces)."""
        cdef int32_t d
        batch = self._current(&d)
        if not batch._done and not batch.wait(timeout):
            if for_get:
                raise KafkaTimeoutError(
                    f"Record to {batch.topic}-{batch.partition} not acknowledged within "
                    f"{timeout} s (it is still pending; the producer keeps trying until "
                    "delivery.timeout.ms)")
            raise KafkaTimeoutError(f"Record to {batch.topic}-{batch.partition} still "
                                    f"pending after {timeout} s")
        return self._current(&d)

    def get(self, timeout=None):
        """Wait for the outcome; return the metadata or raise the record's error."""
        cdef int32_t d
        batch = self._current(&d)
        if not batch._done:
            self._wait(timeout, True)
            batch = self._current(&d)
        if batch.error is not None:
            raise batch.error
        # (one route for a done record: kprod.aio.gather and get() loops call this per
        # record)
        return _make_metadata(batch.topic, batch.partition, batch.base_offset,
                              batch.log_append_time, self, d)

    def result(self, timeout=None):
        """Alias of :meth:`get` (concurrent.futures style)."""
        return self.get(timeout)

    def exception(self, timeout=None):
        return self._wait(timeout, False).error

    def __await__(self):
        """``await future`` (asyncio): the RecordMetadata, or raises the record's error.
        No asyncio.Future per record: see kprod._internals.loop_bridge."""
        global _await_record
        cdef int32_t d
        if not self._current(&d)._done:     # (done: no Python frame at all)
            if _await_record is None:
                from kprod._internals.loop_bridge import await_record
                _await_record = await_record
            return (yield from _await_record(self))
        return self.get(0)

    def add_done_callback(self, fn):
        """Call ``fn(future)`` when done (on the I/O thread, or now if already done)."""
        cdef int32_t d
        batch = self._batch
        if self._done_callback is None and batch._split is None and not batch._done:
            # Atomic under the GIL (no Python code runs between the checks and the
            # append): the batch completes either after this (and runs fn) or before.
            callbacks = batch._callbacks
            if callbacks is not None:
                self._done_callback = fn
                if self._callback is None:      # else the future is listed already
                    PyList_Append(callbacks, self)
                return
        while True:
            registered = self._current(&d).add_done_callback(fn, self)
            if registered is not None:      # None: split meanwhile, route again
                break
        if not registered:
            fn(self)

    def __repr__(self):
        # pending / done at topic-partition@offset (Java's RecordMetadata.toString) /
        # failed with the error.
        cdef int32_t d
        batch = self._current(&d)
        where = f"{batch.topic}-{batch.partition}"
        if not batch._done:
            return f"<RecordFuture pending {where}>"
        if batch.error is not None:
            return f"<RecordFuture failed {where}: {batch.error!r}>"
        offset = batch.base_offset + d if batch.base_offset >= 0 else -1
        return f"<RecordFuture done {where}@{offset}>"


cdef extern from *:
    """
    /* A RecordMetadata (a tuple subclass without __dict__: a NamedTuple) built the way
       tuple.__new__(cls, items) builds it (tp_alloc, then the items), minus the
       temporary tuple and the Python-level __new__ frame. Borrowed arguments.
       Not GC-tracked when its items are atoms (str, int): such a tuple can be in no
       cycle. CPython untracks exact tuples like it lazily, never tuple subclasses, so
       a list of 100k RecordMetadata (kprod.aio.gather, get() in a loop) kept the
       collector traversing them all, about as much CPU as the sends themselves. */
    static PyObject* kprod_tuple6_of_type(PyObject* cls, PyObject* a, PyObject* b,
                                          PyObject* c, PyObject* d, PyObject* e,
                                          PyObject* f) {
        PyTypeObject* tp = (PyTypeObject*)cls;
        PyObject* t = tp->tp_alloc(tp, 6);
        if (t == NULL)
            return NULL;
        Py_INCREF(a); PyTuple_SET_ITEM(t, 0, a);
        Py_INCREF(b); PyTuple_SET_ITEM(t, 1, b);
        Py_INCREF(c); PyTuple_SET_ITEM(t, 2, c);
        Py_INCREF(d); PyTuple_SET_ITEM(t, 3, d);
        Py_INCREF(e); PyTuple_SET_ITEM(t, 4, e);
        Py_INCREF(f); PyTuple_SET_ITEM(t, 5, f);
        if (!PyObject_GC_IsTracked(a) && !PyObject_GC_IsTracked(b)
                && !PyObject_GC_IsTracked(c) && !PyObject_GC_IsTracked(d)
                && !PyObject_GC_IsTracked(e) && !PyObject_GC_IsTracked(f))
            PyObject_GC_UnTrack(t);
        return t;
    }
    """
    object kprod_tuple6_of_type(object cls, object a, object b, object c, object d,
                                object e, object f)


# kprod_tuple6_of_type relies on it: a plain tuple subclass with 6 fields and no __dict__.
assert (issubclass(RecordMetadata, tuple) and len(RecordMetadata._fields) == 6
        and RecordMetadata.__dictoffset__ == 0 and RecordMetadata.__itemsize__ ==
        tuple.__itemsize__)


cdef inline object _make_metadata(object topic, object partition, int64_t base,
                                  int64_t append_time, RecordFuture future, int32_t delta):
    return kprod_tuple6_of_type(
        _RecordMetadata, topic, partition, base + delta if base >= 0 else -1,
        append_time if append_time >= 0 else future._timestamp,
        future._key_size, future._value_size)


def run_callbacks(list callbacks, result, error, on_callback_error):
    """BatchResult.complete's per-record loop (natively: it runs once per record).

    ``callbacks`` holds the entries of the completed ``result``: a RecordFuture whose
    send() callback is pending (see ``try_append``), called ``(metadata, None)`` or
    ``(None, error)``, and/or whose first done callback is (``add_done_callback``),
    called ``(future)`` after it, or a ``(callback, future)`` done callback, called
    ``(future)``.
    An Exception
    from a callback is handed to ``on_callback_error(callback)`` inside the except
    block (so it can log the traceback) and the loop goes on."""
    cdef Py_ssize_t i
    cdef RecordFuture rf
    # The result's fields once for the whole batch (not per record).
    topic = result.topic
    partition = result.partition
    cdef int64_t base = result.base_offset
    cdef int64_t append_time = result.log_append_time
    for i in range(len(callbacks)):
        entry = callbacks[i]
        send_callback = type(entry) is RecordFuture
        if send_callback:
            future = entry
            callback = (<RecordFuture>entry)._callback
            (<RecordFuture>entry)._callback = None   # the future may outlive the batch
            done_callback = (<RecordFuture>entry)._done_callback
            if done_callback is not None:
                (<RecordFuture>entry)._done_callback = None
                if callback is not None:
                    _run_send_callback(callback, future, result, error, topic, partition,
                                       base, append_time, on_callback_error)
                callback = done_callback
                send_callback = False
        else:
            callback = (<tuple?>entry)[0]
            future = (<tuple>entry)[1]
        try:
            if send_callback:
                if error is not None:
                    callback(None, error)
                elif type(future) is RecordFuture and (<RecordFuture>future)._batch is result:
                    rf = <RecordFuture>future
                    callback(_make_metadata(topic, partition, base, append_time, rf,
                                            rf._delta), None)
                else:                      # a record routed here by a split
                    callback(future.metadata(), None)
            else:
                callback(future)
        except Exception:  # a user's callback must not stop the I/O thread
            on_callback_error(callback)


def collect_results(list futures, Py_ssize_t start, list results, bint return_exceptions):
    """kprod.aio.gather's per-record loop (natively: it runs once per record). From
    ``futures[start]`` on, append each done record's RecordMetadata to ``results``, or
    its error with ``return_exceptions`` (else raise it); stop at the first record still
    pending, or anything not a RecordFuture, and return its index (``len(futures)``
    when all are collected)."""
    cdef Py_ssize_t i, n = len(futures)
    cdef RecordFuture rf
    cdef int32_t d
    # A batch's records are mostly adjacent: its outcome is read once. A done batch
    # that was not split never changes again (complete() sets the fields first).
    cdef object cached = None
    cdef object topic = None, partition = None, error = None
    cdef int64_t base = -1, append_time = -1
    for i in range(start, n):
        item = futures[i]
        if type(item) is not RecordFuture:
            return i
        rf = <RecordFuture>item
        if rf._batch is cached:
            d = rf._delta
        else:
            batch = rf._current(&d)
            if not batch._done:
                return i
            topic, partition, error = batch.topic, batch.partition, batch.error
            base, append_time = batch.base_offset, batch.log_append_time
            cached = batch if batch is rf._batch else None
        if error is None:
            results.append(_make_metadata(topic, partition, base, append_time, rf, d))
        elif return_exceptions:
            results.append(error)
        else:
            raise error
    return n


cdef int _run_send_callback(object callback, object future, object result, object error,
                            object topic, object partition, int64_t base,
                            int64_t append_time, object on_callback_error) except -1:
    """A send() callback of a future that also has a done callback (run_callbacks)."""
    cdef RecordFuture rf
    try:
        if error is not None:
            callback(None, error)
        elif type(future) is RecordFuture and (<RecordFuture>future)._batch is result:
            rf = <RecordFuture>future
            callback(_make_metadata(topic, partition, base, append_time, rf, rf._delta),
                     None)
        else:
            callback(future.metadata(), None)
    except Exception:
        on_callback_error(callback)
    return 0


@cython.binding(False)      # a plain builtin: CPython's fast call path
def try_append(batches, int64_t timestamp, key, value, headers, callback,
               Py_ssize_t key_size, Py_ssize_t value_size):
    """Append to the last batch of ``batches`` if it is open and has room.

    Returns ``(future, appended_bytes, batch_full)`` or None (no open batch, or
    it is full: the caller opens a new batch under the partition lock).
    """
    return _try_append(batches, timestamp, key, value, headers, callback, key_size,
                       value_size)


cdef object _try_append(object batches, int64_t timestamp, object key, object value,
                        object headers, object callback, Py_ssize_t key_size,
                        Py_ssize_t value_size):
    cdef Py_ssize_t appended
    cdef bint full
    future = _append(batches, timestamp, key, value, headers, callback, key_size,
                     value_size, &appended, &full)
    if future is None:
        return None
    return (future, appended, full)


cdef RecordFuture _append(object batches, int64_t timestamp, object key, object value,
                          object headers, object callback, Py_ssize_t key_size,
                          Py_ssize_t value_size, Py_ssize_t* appended, bint* full):
    """try_append without the result tuple (SendPath's per-record path): the future,
    or None; the appended bytes and whether the batch is now full in the pointers."""
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
    future._batch = batch._result
    future._delta = delta
    future._timestamp = timestamp
    future._key_size = key_size
    future._value_size = value_size
    if callback is not None:
        # The future itself is the callback entry (run_callbacks): a tuple per record
        # would be GC-tracked, and live until the batch completes, so it would drive a
        # young-generation collection every ~700 sends.
        future._callback = callback
        PyList_Append(batch._callbacks, future)
    cdef Py_ssize_t after = builder._estimated()
    appended[0] = after - before
    full[0] = builder._count > 0 and after >= builder._write_limit
    return future


@cython.final
cdef class PartitionQueue:
    """One partition's deque of batches and its lock (fields read natively by send)."""
    cdef public object tp
    cdef public object lock
    cdef public object batches
    cdef public bint muted

    def __init__(self, tp):
        import threading
        from collections import deque
        self.tp = tp
        self.lock = threading.Lock()
        self.batches = deque()
        self.muted = False


# ---------------------------------------------------------------------------------------
# The common case of Producer.send() in one C call.

from libc.time cimport time_t
from kprod._native.partition cimport (
    PartitionChooser, StickyPartitionState, choose_builtin, sticky_appended,
)

cdef extern from "<time.h>" nogil:
    ctypedef int clockid_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(clockid_t clk_id, timespec* tp)
    clockid_t CLOCK_REALTIME


cdef inline int64_t _now_ms() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <int64_t>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


@cython.final
cdef class TopicState:
    """Per-topic cache of the send fast path, valid for one metadata snapshot."""
    cdef Py_ssize_t num_partitions
    cdef object info
    cdef object available     # the partitions with a leader (sticky choices)
    cdef list queues          # PartitionQueue per partition, None until created
    cdef StickyPartitionState sticky   # None until the topic's first unkeyed record


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)


cdef Py_ssize_t _plain_headers_size(list headers):
    """What headers add to a record, as the native send appends them: their names'
    and values' bytes plus 10 per header (two length varints), when every header is
    a (str, bytes or None) tuple with an ASCII name (its UTF-8 length is its length);
    -1 for anything else, which the slow path normalizes or refuses; 0 for []."""
    cdef Py_ssize_t size = 0
    for item in headers:
        if type(item) is not tuple or len(<tuple>item) != 2:
            return -1
        name = (<tuple>item)[0]
        value = (<tuple>item)[1]
        if type(name) is not str or not PyUnicode_IS_ASCII(name):
            return -1
        size += PyUnicode_GET_LENGTH(name) + 10
        if value is not None:
            if type(value) is not bytes:
                return -1
            size += len(<bytes>value)
    return size


@cython.final
cdef class SendPath:
    """``Producer.send`` for the common case, natively: bytes (or None) key and
    value, no serializer, no headers or a list of (str, bytes or None) tuples (or a
    dict of them), built-in partitioning, a topic whose metadata is known, an open batch with room. Anything else goes to
    ``slow`` (the Python implementation), which handles every case and raises
    the clear errors; both paths make the same choices."""
    cdef public object slow            # Producer's Python send (bound method)
    cdef public bint enabled           # False: always the slow path (closed, forked, ...)
    cdef public object metadata        # kprod._internals.metadata.Metadata
    cdef public object accumulator     # RecordAccumulator (its .queues dict)
    cdef public object wakeup          # Sender.wakeup
    cdef public PartitionChooser partitioner   # the accumulator's (same rule as slow)
    # The interceptors' on_acknowledgement chain, as the callback of records sent
    # without one (None: no interceptor acknowledges); a record with its own callback
    # takes the slow path, which chains both.
    cdef public object default_callback
    # Records (key + value + headers bytes) up to this size skip the size checks: their
    # batch cannot exceed max.request.size or buffer.memory (set from the settings by
    # the producer, as Producer._unchecked_size; -1: check every record).
    cdef public Py_ssize_t unchecked_size
    cdef object _snapshot              # the metadata snapshot the cache below is for
    cdef dict _topics                  # topic -> TopicState

    def __cinit__(self):
        self._topics = {}

    cdef TopicState _topic_state(self, object topic):
        """The cached TopicState, or None when the topic's metadata is unknown."""
        snapshot = self.metadata.snapshot
        if snapshot is not self._snapshot:
            self._topics.clear()          # new metadata: partition counts may change
            self._snapshot = snapshot
        cdef TopicState state = self._topics.get(topic)
        if state is not None:
            return state
        cdef dict topics = snapshot.topics
        info = topics.get(topic)
        if info is None or info.num_partitions <= 0:
            return None
        state = TopicState.__new__(TopicState)
        state.info = info
        state.num_partitions = info.num_partitions
        state.available = info.available
        state.queues = [None] * state.num_partitions
        state.sticky = None
        self._topics[topic] = state
        return state

    def send(self, topic, value=None, key=None, partition=None, timestamp=None,
             headers=None, callback=None, *, block=True):
        """send(topic, value=None, key=None, partition=None, timestamp=None,
        headers=None, callback=None, *, block=True) -> RecordFuture"""
        return self._send(topic, value, key, partition, timestamp, headers, callback, block)

    cdef object _send(self, object topic, object value, object key, object partition,
                      object timestamp, object headers, object callback, bint block):
        cdef Py_ssize_t key_size = -1, value_size = -1, headers_size = 0, n, p
        cdef int64_t ts
        if (not self.enabled or type(topic) is not str
                or (headers is not None and type(headers) is not list
                    and type(headers) is not dict)
                or (callback is not None and (self.default_callback is not None
                                              or not PyCallable_Check(callback)))
                or (key is not None and type(key) is not bytes)
                or (value is not None and type(value) is not bytes)):
            return self.slow(topic, value, key, partition, timestamp, headers, callback,
                             block=block)
        if headers is not None:
            if type(headers) is dict:        # the slow path's reading: items in order
                headers = [(name, item) for name, item in (<dict>headers).items()]
            headers_size = _plain_headers_size(<list>headers)
            if headers_size < 0:             # to be normalized or refused: the slow path
                return self.slow(topic, value, key, partition, timestamp, headers,
                                 callback, block=block)
            if headers_size == 0:
                headers = None               # [] is no headers (the slow path's rule)
        if key is not None:
            key_size = len(<bytes>key)
        if value is not None:
            value_size = len(<bytes>value)
        if key_size + value_size + headers_size > self.unchecked_size:
            # the slow path checks max.request.size and buffer.memory
            return self.slow(topic, value, key, partition, timestamp, headers, callback,
                             block=block)
        cdef TopicState tstate = self._topic_state(topic)
        if tstate is None:
            return self.slow(topic, value, key, partition, timestamp, headers, callback,
                             block=block)
        n = tstate.num_partitions
        # The partition decision of the Python send (explicit, murmur2, sticky); it
        # raises the same errors. A custom partitioner disables this fast path.
        cdef StickyPartitionState state = choose_builtin(
            self.partitioner, topic, key, partition, n, tstate.available, tstate.sticky, &p)
        if state is not None and state is not tstate.sticky:
            tstate.sticky = state
        if timestamp is None:
            ts = _now_ms()
        elif type(timestamp) is int and 0 <= timestamp <= 0x7FFFFFFFFFFFFFFF:
            ts = timestamp
        else:
            return self.slow(topic, value, key, partition, timestamp, headers, callback,
                             block=block)
        q = tstate.queues[p]
        if q is None:
            q = self.accumulator.queues.get((topic, p))
            if q is None:
                return self.slow(topic, value, key, p if state is None else None, ts, headers,
                                 callback, block=block)
            tstate.queues[p] = q
        cdef Py_ssize_t appended
        cdef bint full
        future = _append((<PartitionQueue>q).batches, ts, key, value, headers,
                         callback if callback is not None else self.default_callback,
                         key_size, value_size, &appended, &full)
        if future is None:                     # needs a new batch: the slow path opens it
            return self.slow(topic, value, key, p if state is None else None, ts, headers,
                             callback, block=block)
        if full:
            self.wakeup()                      # the batch is full: ready to go
        if state is not None:
            sticky_appended(self.partitioner, state, p, appended, full, n, tstate.available)
        return future
