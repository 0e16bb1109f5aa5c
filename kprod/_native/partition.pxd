# C-level interface of the partition decision (partition.pyx). The rule itself is the
# two inline functions below, compiled into both the module (for the Python send) and
# the send fast path (appender.pyx), so both paths run the same code without a call.
cimport cython
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport uint32_t

from kprod._native.murmur2 cimport murmur2_object


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
    cdef StickyPartitionState new_sticky(self, object topic, Py_ssize_t num_partitions,
                                         object available, Py_ssize_t* chosen)
    cdef int invalid_partition(self, object topic, object partition,
                               Py_ssize_t num_partitions) except -1
    cpdef Py_ssize_t next_partition(self, StickyPartitionState state,
                                    Py_ssize_t num_partitions, object available) except -1
    cpdef appended(self, StickyPartitionState state, Py_ssize_t partition,
                   Py_ssize_t appended_bytes, bint batch_full, Py_ssize_t num_partitions,
                   object available)


cdef inline Py_ssize_t key_partition(uint32_t key_hash, Py_ssize_t num_partitions) noexcept nogil:
    """Java BuiltInPartitioner.partitionForKey: toPositive(murmur2(key)) % n over all
    partitions, available or not (also used by the bulk path, kprod._native.columns)."""
    return <Py_ssize_t>(key_hash & 0x7fffffff) % num_partitions


cdef inline bint sticky_count(Py_ssize_t batch_size, Py_ssize_t* produced_bytes,
                              Py_ssize_t appended_bytes, bint batch_full) noexcept nogil:
    """The KIP-794 switch rule of sticky_appended on a byte count: True when the
    partition must switch now (the count is left alone), else adds the bytes."""
    cdef Py_ssize_t produced = produced_bytes[0] + appended_bytes
    if (produced >= batch_size and batch_full) or produced >= 2 * batch_size:
        return True
    produced_bytes[0] = produced
    return False


cdef inline StickyPartitionState choose_builtin(
        PartitionChooser chooser, object topic, object key, object partition,
        Py_ssize_t num_partitions, object available, StickyPartitionState known,
        Py_ssize_t* chosen):
    """Every choice but a custom partitioner's: the partition in ``chosen``; returns the
    sticky state when the record is sticky-partitioned (pass it to sticky_appended),
    else None. ``key``: the serialized key (bytes-like) or None; ``known``: the topic's
    sticky state if the caller has it. Raises for an invalid explicit partition."""
    cdef long long index = -1
    cdef int overflow = 0
    if partition is not None:
        if isinstance(partition, int):
            index = PyLong_AsLongLongAndOverflow(partition, &overflow)
        if overflow or index < 0 or index >= num_partitions:
            chooser.invalid_partition(topic, partition, num_partitions)
        chosen[0] = <Py_ssize_t>index
        return None
    if key is not None and not chooser.ignore_keys:
        chosen[0] = key_partition(murmur2_object(key), num_partitions)
        return None
    if known is not None and 0 <= known.index < num_partitions:
        chosen[0] = known.index
        return known
    return chooser.new_sticky(topic, num_partitions, available, chosen)


cdef inline int sticky_appended(PartitionChooser chooser, StickyPartitionState state,
                                Py_ssize_t partition, Py_ssize_t appended_bytes,
                                bint batch_full, Py_ssize_t num_partitions,
                                object available) except -1:
    """KIP-794 after an unkeyed record's append (Java BuiltInPartitioner
    .updatePartitionInfo): count its bytes; switch at batch.size if the batch appended
    to is now full (KAFKA-14156), always at 2 * batch.size."""
    if state.index != partition:
        return 0     # another thread switched already
    cdef Py_ssize_t produced = state.produced_bytes
    if sticky_count(chooser.sticky_batch_size, &produced, appended_bytes, batch_full):
        state.index = chooser.next_partition(state, num_partitions, available)
        state.produced_bytes = 0
    else:
        state.produced_bytes = produced
    return 0
