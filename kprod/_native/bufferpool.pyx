# cython: language_level=3
"""The producer's buffer pool: ``buffer.memory`` split into ``batch.size`` blocks.

Semantics follow Kafka's Java ``org.apache.kafka.clients.producer.internals.BufferPool``
(BufferPool.java, allocate/deallocate/freeUp):

* ``total_memory`` (buffer.memory) bounds every byte handed out; buffers of exactly
  ``pool_buffer_size`` (batch.size) are kept in a free list after release and
  reused; other sizes are allocated fresh, count against the total, and are
  freed on release. Pooled free buffers are freed to make room for a big request.
* ``allocate`` blocks up to ``max_block_ms`` when memory is short, FIFO-fair: all
  freed memory goes to the longest-waiting thread until it has enough (partial
  accumulation), so big requests are never starved; a waiter for exactly
  ``pool_buffer_size`` takes a freed pooled buffer whole, giving back what it had
  accumulated (Java takes the pooled buffer only with nothing accumulated, so it
  then frees one buffer to allocate another). Unlike Java, memory is
  handed to waiters by the releasing thread under the lock, and a new request
  never overtakes a queued one (strict arrival order).
* KAFKA-19012 (a buffer recycled while an in-flight request still referenced
  it, fixed in apache/kafka PR #21065) is impossible by construction here: a
  ``PooledBuffer`` counts its exported buffer views; ``release()`` with live
  views only marks it, and the memory returns when the last view goes away.
  A returned buffer's ``data`` is NULL and any further use raises.

Locking: one pthread mutex guards the pool state. Code holding the mutex never
touches Python objects or the GIL, so taking the mutex while holding the GIL
cannot deadlock; waiting (pthread_cond_timedwait) always happens without the GIL.
"""
cimport cython
from cpython.buffer cimport PyBUF_FORMAT, PyBUF_ND, PyBUF_STRIDES
from cpython.exc cimport PyErr_CheckSignals
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc, PyMem_RawRealloc
from libc.math cimport isinf, isnan
from libc.stdint cimport int64_t, uintptr_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec
from posix.types cimport clockid_t

from kprod.errors import (
    BufferExhaustedError,
    ProducerClosedError,
    RecordTooLargeError,
    StaleBufferError,
)

__all__ = ["BufferPool", "PooledBuffer", "StaleBufferError", "standalone_buffer"]


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_mutexattr_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* mutex, const pthread_mutexattr_t* attr)
    int pthread_mutex_destroy(pthread_mutex_t* mutex)
    int pthread_mutex_lock(pthread_mutex_t* mutex)
    int pthread_mutex_unlock(pthread_mutex_t* mutex)
    int pthread_condattr_init(pthread_condattr_t* attr)
    int pthread_condattr_setclock(pthread_condattr_t* attr, clockid_t clock)
    int pthread_condattr_destroy(pthread_condattr_t* attr)
    int pthread_cond_init(pthread_cond_t* cond, const pthread_condattr_t* attr)
    int pthread_cond_destroy(pthread_cond_t* cond)
    int pthread_cond_signal(pthread_cond_t* cond)
    int pthread_cond_timedwait(pthread_cond_t* cond, pthread_mutex_t* mutex,
                               const timespec* abstime)


# Outcome of one step of an allocation.
cdef enum:
    _DONE = 0       # the waiter holds its grant (w.buffer or w.accumulated == w.size)
    _QUEUED = 1     # enqueued; must wait
    _CLOSED = 2     # pool closed; nothing granted
    _TIMEOUT = 3    # not served in time (or max_block_ms == 0); nothing granted
    _AGAIN = 4      # still queued; wait slice over (check signals, then wait again)
    _NOCOND = 5     # pthread_cond_init failed; nothing granted

# A blocked thread re-takes the GIL this often to run signal handlers (Ctrl-C).
cdef int64_t _SLICE_NS = 200 * 1000 * 1000
# max_block_ms at or above this (~31 years) means "no deadline" (no int64 overflow).
cdef double _NO_DEADLINE_MS = 1e12
cdef Py_ssize_t _ONE = 1            # strides of every exported view


cdef struct Waiter:
    # One blocked allocate() call; lives on that call's C stack and is linked
    # into the pool's FIFO queue while it waits.
    Waiter* prev
    Waiter* next
    Py_ssize_t size
    Py_ssize_t accumulated      # bytes of non-pooled memory granted so far
    char* buffer                # a pooled free buffer granted whole, or NULL
    Py_ssize_t available        # snapshot for the error message on failure
    int done                    # granted in full and dequeued
    pthread_cond_t cond


cdef inline int64_t _mono_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef class BufferPool:
    """A pool of ``total_memory`` bytes that recycles buffers of ``pool_buffer_size``.

    ``BufferPool(total_memory, pool_buffer_size)`` takes the producer's
    ``buffer.memory`` and ``batch.size``. Thread-safe; see the module docstring.
    ``pool_buffer_size == 0`` disables pooling (every buffer is freed on release).
    Blocked threads wake every 200 ms to run signal handlers (Ctrl-C interrupts
    a blocked allocate(); its place in line and partial grant are given up).
    """

    cdef pthread_mutex_t _lock
    cdef pthread_condattr_t _condattr
    cdef bint _lock_ok
    cdef bint _condattr_ok
    cdef Py_ssize_t _total
    cdef Py_ssize_t _poolable
    cdef Py_ssize_t _non_pooled     # Java's nonPooledAvailableMemory
    cdef char** _free               # stack of free pooled buffers
    cdef Py_ssize_t _free_count
    cdef Py_ssize_t _free_cap
    cdef Waiter* _head
    cdef Waiter* _tail
    cdef Py_ssize_t _queued
    cdef bint _closed
    cdef int64_t _wait_ns_total
    cdef Py_ssize_t _exhausted_count
    cdef Py_ssize_t _system_allocations   # counted with the GIL held (allocate())

    def __cinit__(self, Py_ssize_t total_memory, Py_ssize_t pool_buffer_size):
        if total_memory < 0:
            raise ValueError(f"buffer.memory must be >= 0, got {total_memory}")
        if pool_buffer_size < 0:
            raise ValueError(f"batch.size must be >= 0, got {pool_buffer_size}")
        self._total = total_memory
        self._poolable = pool_buffer_size
        self._non_pooled = total_memory
        if pthread_condattr_init(&self._condattr) != 0:
            raise MemoryError("pthread_condattr_init failed")
        self._condattr_ok = True
        if pthread_condattr_setclock(&self._condattr, CLOCK_MONOTONIC) != 0:
            raise OSError("pthread_condattr_setclock(CLOCK_MONOTONIC) failed")
        if pthread_mutex_init(&self._lock, NULL) != 0:
            raise MemoryError("pthread_mutex_init failed")
        self._lock_ok = True

    def __dealloc__(self):
        # No waiter can exist (a waiting allocate() holds a reference to self)
        # and no buffer is out (each holds a reference): only free buffers remain.
        cdef Py_ssize_t i
        for i in range(self._free_count):
            PyMem_RawFree(self._free[i])
        PyMem_RawFree(self._free)
        self._free = NULL
        self._free_count = 0
        if self._lock_ok:
            pthread_mutex_destroy(&self._lock)
        if self._condattr_ok:
            pthread_condattr_destroy(&self._condattr)

    # -- state changes; every *_locked method runs with self._lock held -------

    cdef inline Py_ssize_t _available_locked(self) noexcept nogil:
        return self._non_pooled + self._free_count * self._poolable

    cdef inline bint _poolable_size(self, Py_ssize_t size) noexcept nogil:
        return size == self._poolable and self._poolable > 0

    cdef void _free_up_locked(self, Py_ssize_t size) noexcept nogil:
        # Java freeUp(): free pooled buffers until non-pooled memory covers size.
        while self._free_count > 0 and self._non_pooled < size:
            self._free_count -= 1
            PyMem_RawFree(self._free[self._free_count])
            self._non_pooled += self._poolable

    cdef bint _push_free_locked(self, char* data) noexcept nogil:
        cdef Py_ssize_t new_cap
        cdef char** grown
        if self._free_count == self._free_cap:
            new_cap = 16 if self._free_cap == 0 else self._free_cap * 2
            grown = <char**>PyMem_RawRealloc(self._free, <size_t>new_cap * sizeof(char*))
            if grown == NULL:
                return False
            self._free = grown
            self._free_cap = new_cap
        self._free[self._free_count] = data
        self._free_count += 1
        return True

    cdef void _enqueue_locked(self, Waiter* w) noexcept nogil:
        w.next = NULL
        w.prev = self._tail
        if self._tail != NULL:
            self._tail.next = w
        else:
            self._head = w
        self._tail = w
        self._queued += 1

    cdef void _dequeue_locked(self, Waiter* w) noexcept nogil:
        if w.prev != NULL:
            w.prev.next = w.next
        else:
            self._head = w.next
        if w.next != NULL:
            w.next.prev = w.prev
        else:
            self._tail = w.prev
        w.prev = NULL
        w.next = NULL
        self._queued -= 1

    cdef void _serve_locked(self) noexcept nogil:
        # Hand available memory to waiters in arrival order. The head waiter
        # takes everything until it has enough (Java's partial accumulation),
        # so while anyone waits, available memory is 0.
        cdef Waiter* w = self._head
        cdef Py_ssize_t need, got
        if self._closed:
            return
        while w != NULL:
            if self._poolable_size(w.size) and self._free_count > 0:
                # A free pooled buffer serves a batch.size waiter whole, and what it had
                # accumulated goes back. Accumulating on instead would free this buffer
                # to make up the rest and allocate a new one: with a batch.size that
                # does not divide buffer.memory, every batch once the pool ran dry got
                # fresh memory, page faults and all.
                self._non_pooled += w.accumulated
                self._free_count -= 1
                w.buffer = self._free[self._free_count]
                w.accumulated = w.size
            else:
                need = w.size - w.accumulated
                self._free_up_locked(need)
                got = need if need < self._non_pooled else self._non_pooled
                self._non_pooled -= got
                w.accumulated += got
            if w.accumulated < w.size:
                return
            self._dequeue_locked(w)
            w.done = 1
            pthread_cond_signal(&w.cond)
            w = self._head

    cdef void _deallocate_locked(self, char* data, Py_ssize_t capacity) noexcept nogil:
        # Java deallocate(): a buffer of exactly batch.size goes to the free
        # list, anything else is freed and its size added back.
        if self._closed or not self._poolable_size(capacity) or not self._push_free_locked(data):
            PyMem_RawFree(data)
            self._non_pooled += capacity
        self._serve_locked()

    cdef void _give_back_grant_locked(self, Waiter* w) noexcept nogil:
        # Undo whatever w was granted (it is no longer queued or never was).
        if w.buffer != NULL:
            self._deallocate_locked(w.buffer, w.size)
            w.buffer = NULL
        else:
            self._non_pooled += w.accumulated
            self._serve_locked()
        w.accumulated = 0

    cdef void _leave_locked(self, Waiter* w) noexcept nogil:
        # A queued, unsatisfied waiter gives up: return its partial grant.
        self._dequeue_locked(w)
        self._non_pooled += w.accumulated
        w.accumulated = 0
        w.available = self._available_locked()
        self._serve_locked()

    cdef int _begin_locked(self, Waiter* w, bint may_block) noexcept nogil:
        if self._closed:
            return _CLOSED
        if self._head == NULL:          # nobody is ahead of us
            if self._poolable_size(w.size) and self._free_count > 0:
                self._free_count -= 1
                w.buffer = self._free[self._free_count]
                w.accumulated = w.size
                w.done = 1
                return _DONE
            if self._available_locked() >= w.size:
                self._free_up_locked(w.size)
                self._non_pooled -= w.size
                w.accumulated = w.size
                w.done = 1
                return _DONE
        if not may_block:
            self._exhausted_count += 1
            w.available = self._available_locked()
            return _TIMEOUT
        if pthread_cond_init(&w.cond, &self._condattr) != 0:
            return _NOCOND
        self._enqueue_locked(w)
        self._serve_locked()            # take what is there now (partial grant)
        return _QUEUED

    cdef int _wait(self, Waiter* w, bint has_deadline, int64_t deadline) noexcept nogil:
        # Wait (GIL released by the caller) until w is served, the pool closes,
        # the deadline passes, or one slice is over (_AGAIN: w stays queued).
        cdef int64_t start = _mono_ns()
        cdef int64_t slice_end = start + _SLICE_NS
        cdef int64_t now, until
        cdef timespec ts
        cdef int rc
        pthread_mutex_lock(&self._lock)
        while True:
            if w.done:
                rc = _DONE
                break
            if self._closed:
                self._leave_locked(w)
                rc = _CLOSED
                break
            now = _mono_ns()
            if has_deadline and now >= deadline:
                self._exhausted_count += 1
                self._leave_locked(w)
                rc = _TIMEOUT
                break
            if now >= slice_end:
                rc = _AGAIN
                break
            until = slice_end
            if has_deadline and deadline < until:
                until = deadline
            ts.tv_sec = until // 1000000000
            ts.tv_nsec = until % 1000000000
            pthread_cond_timedwait(&w.cond, &self._lock, &ts)
        self._wait_ns_total += _mono_ns() - start
        pthread_mutex_unlock(&self._lock)
        return rc

    cdef int _block(self, Waiter* w, double max_block_ms) except -1:
        # Drive _wait() until a final outcome; run signal handlers between slices.
        cdef bint has_deadline = not isinf(max_block_ms) and max_block_ms < _NO_DEADLINE_MS
        cdef int64_t deadline = 0
        cdef int rc
        if has_deadline:
            deadline = _mono_ns() + <int64_t>(max_block_ms * 1e6)
        try:
            while True:
                with nogil:
                    rc = self._wait(w, has_deadline, deadline)
                if rc != _AGAIN:
                    return rc
                try:
                    PyErr_CheckSignals()
                except BaseException:
                    # Interrupted: give up our place and anything granted.
                    pthread_mutex_lock(&self._lock)
                    if not w.done:
                        self._dequeue_locked(w)
                    self._give_back_grant_locked(w)
                    pthread_mutex_unlock(&self._lock)
                    raise
        finally:
            # w is dequeued here: nobody else can reach its condition variable.
            pthread_cond_destroy(&w.cond)

    cdef void _deallocate(self, char* data, Py_ssize_t capacity) noexcept:
        # Called with the GIL held (PooledBuffer); safe, see module docstring.
        pthread_mutex_lock(&self._lock)
        self._deallocate_locked(data, capacity)
        pthread_mutex_unlock(&self._lock)

    # -- Python API ------------------------------------------------------------

    def allocate(self, Py_ssize_t size, double max_block_ms):
        """Return a PooledBuffer of capacity ``size``, blocking up to ``max_block_ms``.

        A request for exactly ``pool_buffer_size`` reuses a free pooled buffer
        when one exists. Raises RecordTooLargeError if ``size`` exceeds
        ``total_memory``, BufferExhaustedError if the memory is not available
        within ``max_block_ms`` (0: do not wait; inf: no limit), and
        ProducerClosedError if the pool is or gets closed. Blocking releases
        the GIL and is FIFO-fair.
        """
        cdef Waiter w
        cdef int rc
        cdef char* data
        if size < 0:
            raise ValueError(f"cannot allocate a negative size ({size})")
        if isnan(max_block_ms) or max_block_ms < 0:
            raise ValueError(f"max_block_ms must be >= 0, got {max_block_ms}")
        if size > self._total:
            raise RecordTooLargeError(
                f"Attempt to allocate {size} bytes, but there is a hard limit of "
                f"{self._total} bytes on memory allocations (buffer.memory)")
        w.prev = NULL
        w.next = NULL
        w.size = size
        w.accumulated = 0
        w.buffer = NULL
        w.available = 0
        w.done = 0
        pthread_mutex_lock(&self._lock)
        rc = self._begin_locked(&w, max_block_ms > 0)
        pthread_mutex_unlock(&self._lock)
        if rc == _QUEUED:
            rc = self._block(&w, max_block_ms)
        if rc == _CLOSED:
            raise ProducerClosedError("Producer closed while allocating memory")
        if rc == _NOCOND:
            raise MemoryError("pthread_cond_init failed")
        if rc == _TIMEOUT:
            raise BufferExhaustedError(
                f"Failed to allocate {size} bytes within the configured max blocking "
                f"time {max_block_ms:g} ms (max.block.ms). Total memory: {self._total} "
                f"bytes (buffer.memory). Available memory: {w.available} bytes. "
                f"Poolable size: {self._poolable} bytes (batch.size)")
        # _DONE: turn the grant into memory.
        if w.buffer != NULL:
            return _new_buffer(w.buffer, size, self)
        data = <char*>PyMem_RawMalloc(<size_t>size if size > 0 else 1)
        self._system_allocations += 1
        if data == NULL:
            pthread_mutex_lock(&self._lock)
            self._give_back_grant_locked(&w)
            pthread_mutex_unlock(&self._lock)
            raise MemoryError(f"could not allocate {size} bytes")
        return _new_buffer(data, size, self)

    def close(self):
        """Close the pool: blocked and later allocate() calls raise ProducerClosedError.

        Free pooled buffers are freed now; buffers still out may be released
        normally (they are freed, not pooled). Idempotent.
        """
        cdef Waiter* w
        pthread_mutex_lock(&self._lock)
        if not self._closed:
            self._closed = True
            while self._free_count > 0:         # free every pooled buffer
                self._free_count -= 1
                PyMem_RawFree(self._free[self._free_count])
                self._non_pooled += self._poolable
            w = self._head
            while w != NULL:
                pthread_cond_signal(&w.cond)
                w = w.next
        pthread_mutex_unlock(&self._lock)

    @property
    def total_memory(self) -> int:
        """``buffer.memory``: the bound on all memory handed out."""
        return self._total

    @property
    def pool_buffer_size(self) -> int:
        """``batch.size``: the one size that is pooled."""
        return self._poolable

    @property
    def available_memory(self) -> int:
        """Unallocated memory plus the memory held in free pooled buffers."""
        cdef Py_ssize_t v
        pthread_mutex_lock(&self._lock)
        v = self._available_locked()
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def unallocated_memory(self) -> int:
        """Memory not held by any buffer (Java's ``nonPooledAvailableMemory``)."""
        cdef Py_ssize_t v
        pthread_mutex_lock(&self._lock)
        v = self._non_pooled
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def free_buffers(self) -> int:
        """Number of pooled buffers in the free list."""
        cdef Py_ssize_t v
        pthread_mutex_lock(&self._lock)
        v = self._free_count
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def queued(self) -> int:
        """Number of threads blocked in allocate() (> 0 means "exhausted")."""
        cdef Py_ssize_t v
        pthread_mutex_lock(&self._lock)
        v = self._queued
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def closed(self) -> bool:
        return bool(self._closed)

    @property
    def wait_time_ns_total(self) -> int:
        """Total nanoseconds threads spent blocked in allocate() (Java's bufferpool-wait-time)."""
        cdef int64_t v
        pthread_mutex_lock(&self._lock)
        v = self._wait_ns_total
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def exhausted_count(self) -> int:
        """Allocations that failed with BufferExhaustedError (Java's buffer-exhausted-records)."""
        cdef Py_ssize_t v
        pthread_mutex_lock(&self._lock)
        v = self._exhausted_count
        pthread_mutex_unlock(&self._lock)
        return v

    @property
    def system_allocations(self) -> int:
        """Buffers allocated from the system so far, pooled or not (not from the free
        list). A pool whose batches are all batch.size stops counting up once its
        free list holds buffer.memory's worth: fresh memory costs page faults."""
        return self._system_allocations

    def __repr__(self):
        return (f"<BufferPool total_memory={self._total} pool_buffer_size={self._poolable} "
                f"available={self.available_memory} free_buffers={self.free_buffers} "
                f"queued={self.queued}{' closed' if self._closed else ''}>")


@cython.no_gc_clear     # __dealloc__ needs self.pool to give the memory back
cdef class PooledBuffer:
    """A writable block of ``capacity`` bytes from a BufferPool (or standalone).

    Exposes the buffer protocol (1-D, unsigned bytes, writable). ``release()``
    returns the memory once no view (memoryview, Py_buffer) of it is alive;
    after that the object is stale: new views raise StaleBufferError. A
    buffer garbage-collected without release() is returned as well.
    """

    def __cinit__(self):
        self.data = NULL
        self.returned = True    # inert until _new_buffer fills it

    def __init__(self, *args, **kwargs):
        raise TypeError("PooledBuffer objects come from BufferPool.allocate() "
                        "or PooledBuffer.standalone()")

    def __dealloc__(self):
        if self.data != NULL:
            _give_back(self)

    @staticmethod
    def standalone(Py_ssize_t size):
        """A buffer of ``size`` bytes owned by no pool; release() frees it."""
        return standalone_buffer(size)

    cpdef release(self):
        """Give the memory back (now, or when the last view is released).

        Harmless to call more than once.
        """
        if self.data == NULL:
            return
        self.release_requested = True
        if self.exports == 0:
            _give_back(self)

    cdef int check_live(self) except -1:
        if self.data == NULL:
            raise StaleBufferError(
                f"PooledBuffer of {self.capacity} bytes was released and its memory "
                "returned; it can no longer be used")
        if self.release_requested:
            raise StaleBufferError(
                f"PooledBuffer of {self.capacity} bytes was released; its memory returns "
                "when the remaining views are released and can no longer be used")
        return 0

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        self.check_live()
        buffer.buf = self.data
        buffer.obj = self
        buffer.len = self.capacity
        buffer.readonly = 0
        buffer.itemsize = 1
        buffer.format = <char*>b"B" if (flags & PyBUF_FORMAT) == PyBUF_FORMAT else NULL
        buffer.ndim = 1
        buffer.shape = &self.capacity if (flags & PyBUF_ND) == PyBUF_ND else NULL
        buffer.strides = &_ONE if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        buffer.suboffsets = NULL
        buffer.internal = NULL
        self.exports += 1

    def __releasebuffer__(self, Py_buffer* buffer):
        self.exports -= 1
        if self.exports == 0 and self.release_requested:
            _give_back(self)

    @property
    def _address(self) -> int:
        """Address of the memory (0 once returned); for tests and debugging only."""
        return <uintptr_t>self.data

    def __repr__(self):
        if self.returned:
            return f"<PooledBuffer capacity={self.capacity} returned>"
        owner = "standalone" if self.pool is None else "pooled"
        pending = "release pending, " if self.release_requested else ""
        return f"<PooledBuffer capacity={self.capacity} {owner} {pending}{self.exports} views>"

cdef void _give_back(PooledBuffer self) noexcept:
    # Return the memory to its pool (or free it); the object becomes stale.
    cdef char* data = self.data
    cdef BufferPool pool
    if data == NULL:
        return
    # Mark first: the object never again reaches this memory.
    self.data = NULL
    self.returned = True
    self.release_requested = True
    if self.pool is None:
        PyMem_RawFree(data)
    else:
        pool = <BufferPool>self.pool     # keeps the pool alive for the call
        self.pool = None
        pool._deallocate(data, self.capacity)


cdef PooledBuffer _new_buffer(char* data, Py_ssize_t capacity, object pool):
    cdef PooledBuffer buf
    try:
        buf = PooledBuffer.__new__(PooledBuffer)
    except BaseException:
        if pool is None:
            PyMem_RawFree(data)
        else:
            (<BufferPool>pool)._deallocate(data, capacity)
        raise
    buf.data = data
    buf.capacity = capacity
    buf.pool = pool
    buf.returned = False
    return buf


def standalone_buffer(Py_ssize_t size):
    """A PooledBuffer of ``size`` bytes outside any pool (tests, benchmarks)."""
    cdef char* data
    if size < 0:
        raise ValueError(f"cannot allocate a negative size ({size})")
    data = <char*>PyMem_RawMalloc(<size_t>size if size > 0 else 1)
    if data == NULL:
        raise MemoryError(f"could not allocate {size} bytes")
    return _new_buffer(data, size, None)
