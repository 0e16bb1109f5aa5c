# Interface of the buffer pool shared with the RecordBatch builder (records.pyx).
#
# A PooledBuffer is a fixed-capacity block of memory handed out by a
# BufferPool (or made standalone, outside any pool, for tests and benchmarks).
# Ownership rule (prevents KAFKA-19012, a buffer recycled while a request still
# reads it): release() only *requests* the return to the pool; the memory goes
# back (and may be handed out again) only once no exported buffer view
# (memoryview / Py_buffer) of it is alive. Until then its bytes stay valid and
# unchanged.

cdef class PooledBuffer:
    cdef char* data                 # capacity bytes, owned by this object
    cdef readonly Py_ssize_t capacity
    cdef Py_ssize_t exports         # live Py_buffer views of data
    cdef bint release_requested
    cdef bint returned              # memory given back to the pool (or freed)
    cdef object pool                # the BufferPool, or None when standalone

    cpdef release(self)
