# C-level interface of the partition decision (partition.pyx), cimported by the send
# fast path (appender.pyx) so both paths run the same rule.
cimport cython


@cython.final
cdef class StickyPartitionState:
    cdef public object topic
    cdef public Py_ssize_t index
    cdef public Py_ssize_t produced_bytes
    cdef public object cumulative_weights
    cdef public object weighted_partitions


@cython.final
cdef class PartitionChooser:
    cdef readonly dict states
    cdef readonly Py_ssize_t sticky_batch_size
    cdef readonly object custom
    cdef readonly bint ignore_keys
    cdef object _random

    cpdef StickyPartitionState state(self, object topic)
    cdef StickyPartitionState builtin(self, object topic, object key, object partition,
                                      Py_ssize_t num_partitions, object available,
                                      StickyPartitionState known, Py_ssize_t* chosen)
    cpdef Py_ssize_t next_partition(self, StickyPartitionState state,
                                    Py_ssize_t num_partitions, object available) except -1
    cpdef appended(self, StickyPartitionState state, Py_ssize_t partition,
                   Py_ssize_t appended_bytes, bint batch_full, Py_ssize_t num_partitions,
                   object available)
