# cython: language_level=3
"""The partition decision of ``send()``, for the Python send and the native fast
path alike (Java ``KafkaProducer.partition`` and ``BuiltInPartitioner``).

In order: an explicit partition (checked against the topic's partition count), else
a custom ``partitioner.class``, else ``toPositive(murmur2(key)) % n`` over all
partitions for a keyed record (unless ``partitioner.ignore.keys``), else uniform
sticky partitioning (KIP-794): unkeyed records stick to one partition until about
``batch.size`` bytes were produced to it, then switch. A switch is only allowed when
the batch just appended to is full (KAFKA-14156: no fractional batches with a large
linger), and always happens at ``2 * batch.size``. With adaptive partitioning the
next partition is drawn with weights favouring short queues.

Thread safety: called on caller threads without a lock, as in Java; a race between
two threads switching a topic's partition only costs a slightly early switch.
"""
cimport cython

import bisect
import random

from kprod.errors import KafkaError


@cython.final
cdef class StickyPartitionState:
    """One topic's sticky partition (KIP-794) and its adaptive weights."""

    def __init__(self, topic):
        self.topic = topic
        self.index = -1
        self.produced_bytes = 0
        self.cumulative_weights = None
        self.weighted_partitions = None


@cython.final
cdef class PartitionChooser:
    """Chooses every record's partition for one producer (sticky state per topic).

    ``PartitionChooser(batch_size, partitioner=None, ignore_keys=False, rng=None)``:
    ``partitioner`` is the custom ``partitioner.class`` object, if any."""

    def __init__(self, Py_ssize_t batch_size, partitioner=None, bint ignore_keys=False,
                 rng=None):
        self.states = {}
        self.sticky_batch_size = max(batch_size, 1)
        self.custom = partitioner
        self.ignore_keys = ignore_keys
        self._random = rng or random.Random()

    cpdef StickyPartitionState state(self, object topic):
        """The topic's sticky state (created on first use)."""
        cdef StickyPartitionState state = self.states.get(topic)
        if state is None:
            state = self.states.setdefault(topic, StickyPartitionState(topic))
        return state

    def choose(self, topic, key, key_bytes, value, value_bytes, partition, info, cluster):
        """choose(topic, key, key_bytes, value, value_bytes, partition, info, cluster)
        -> (partition, sticky state or None)

        ``info`` is the topic's metadata (``num_partitions``, ``available``); a sticky
        state is returned for an unkeyed record: pass it to :meth:`appended`."""
        cdef Py_ssize_t n = info.num_partitions, chosen
        if partition is None and self.custom is not None:
            chosen_obj = self.custom.partition(topic, key, key_bytes, value, value_bytes,
                                               cluster)
            if not isinstance(chosen_obj, int) or not 0 <= chosen_obj < n:
                raise KafkaError(f"Partitioner returned invalid partition {chosen_obj!r} for "
                                 f"topic '{topic}' with {n} partitions")
            return chosen_obj, None
        state = choose_builtin(self, topic, key_bytes, partition, n, info.available, None,
                               &chosen)
        return chosen, state

    cdef StickyPartitionState new_sticky(self, object topic, Py_ssize_t num_partitions,
                                         object available, Py_ssize_t* chosen):
        """The topic's sticky state, choosing its partition if it has none (valid)."""
        cdef StickyPartitionState state = self.states.get(topic)
        if state is None:
            state = self.state(topic)
        cdef Py_ssize_t index = state.index
        if index < 0 or index >= num_partitions:
            index = self.next_partition(state, num_partitions, available)
            state.index = index
            state.produced_bytes = 0
        chosen[0] = index
        return state

    cdef int invalid_partition(self, object topic, object partition,
                               Py_ssize_t num_partitions) except -1:
        if not isinstance(partition, int):
            raise TypeError(f"partition must be an int, not {type(partition).__name__}")
        raise KafkaError(f"Invalid partition {partition} for topic '{topic}': it has "
                         f"{num_partitions} partition(s) (0..{num_partitions - 1})")

    cpdef Py_ssize_t next_partition(self, StickyPartitionState state,
                                    Py_ssize_t num_partitions, object available) except -1:
        """A new sticky partition: weighted (adaptive), else uniform over the available
        partitions, else over all."""
        r = self._random.getrandbits(31)
        weights = state.cumulative_weights
        if weights:
            # Adaptive: first cumulative weight greater than r % total (no negative
            # index: the extension is built without wraparound).
            total = weights[len(weights) - 1]
            return state.weighted_partitions[bisect.bisect_right(weights, r % total)]
        if available:
            return available[r % len(available)]
        return r % num_partitions

    cpdef appended(self, StickyPartitionState state, Py_ssize_t partition,
                   Py_ssize_t appended_bytes, bint batch_full, Py_ssize_t num_partitions,
                   object available):
        """After an unkeyed record's append: count its bytes and switch when KIP-794 says
        so (see sticky_appended). ``batch_full``: the batch appended to (the
        partition's last) is now full."""
        sticky_appended(self, state, partition, appended_bytes, batch_full, num_partitions,
                        available)

    @staticmethod
    def update_load_stats(StickyPartitionState state, partitions, queue_sizes,
                          Py_ssize_t num_partitions):
        """Adaptive partitioning: weights ``max+1 - queue`` over the partitions whose
        leaders are usable (Java ``updatePartitionLoadStats``); uniform when all
        queues are equal and no partition was excluded."""
        if num_partitions < 2 or not partitions or (
                len(set(queue_sizes)) <= 1 and len(partitions) == num_partitions):
            state.cumulative_weights = None
            state.weighted_partitions = None
            return
        top = max(queue_sizes) + 1
        total, cumulative = 0, []
        for q in queue_sizes:
            total += top - q
            cumulative.append(total)
        state.weighted_partitions = list(partitions)
        state.cumulative_weights = cumulative
