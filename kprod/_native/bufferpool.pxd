# Interface of the buffer pool shared with the RecordBatch builder (batch_builder.pyx).
#
# A PooledBuffer is a fixed-capacity block of memory handed out by a
# BufferPool (or made standalone, outside any pool, for tests and benchmarks).
# Ownership rule (prevents KAFKA-19012, a buffer recycled while a request still
# reads it): release() only *requests* the return to the pool; the memory goes
# back (and may be handed out again) only once no exported buffer view
# (memoryview / Py_buffer) of it is alive. Until then its bytes stay valid and
# unchanged.
#
# Once the memory is returned, data is NULL. C code that keeps a PooledBuffer
# across calls should call check_live() (raises StaleBufferError) before
# touching data. All fields are guarded by the GIL.

cdef class PooledBuffer:
    cdef char* data                 # capacity bytes, owned by this object
    cdef readonly Py_ssize_t capacity
    cdef readonly Py_ssize_t exports        # live Py_buffer views of data
    cdef readonly bint release_requested
    cdef readonly bint returned     # memory given back to the pool (or freed)
    cdef readonly object pool       # the BufferPool, or None when standalone
                                    # (also None once returned)

    cpdef release(self)
    # 0 if data is usable; raises StaleBufferError once release() was called
    # or the memory was returned.
    cdef int check_live(self) except -1
