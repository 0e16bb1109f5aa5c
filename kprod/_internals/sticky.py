"""Uniform sticky partitioning for unkeyed records (KIP-794, Java's BuiltInPartitioner).

Records without a key stick to one partition until about ``batch.size`` bytes
were produced to it, then switch. A switch is only allowed when the current
batch is full or none is open (KAFKA-14156: no fractional batches with a large
linger), and always happens at ``2 * batch.size``. With adaptive partitioning
the next partition is drawn with weights favouring short queues.
"""
from __future__ import annotations

import bisect
import random
from typing import Optional, Sequence

from kprod._native.appender import StickyPartitionState  # noqa: F401 (re-exported)


class BuiltInPartitioner:
    """Java's ``BuiltInPartitioner`` for one producer (state per topic)."""

    def __init__(self, batch_size: int, rng: Optional[random.Random] = None) -> None:
        self.sticky_batch_size = max(batch_size, 1)
        self._topics: dict = {}
        self._random = rng or random.Random()

    def state(self, topic: str) -> StickyPartitionState:
        state = self._topics.get(topic)
        if state is None:
            state = self._topics.setdefault(topic, StickyPartitionState(topic))
        return state

    def partition(self, state: StickyPartitionState, num_partitions: int,
                  available: Sequence[int]) -> int:
        """The current sticky partition, choosing one if none yet."""
        index = state.index
        if index < 0 or index >= num_partitions:
            index = self._next_partition(state, num_partitions, available)
            state.index = index
            state.produced_bytes = 0
        return index

    def _next_partition(self, state: StickyPartitionState, num_partitions: int,
                        available: Sequence[int]) -> int:
        r = self._random.getrandbits(31)
        weights = state.cumulative_weights
        if weights:
            # Adaptive: first cumulative weight greater than r % total.
            return state.weighted_partitions[bisect.bisect_right(weights, r % weights[-1])]
        if available:
            return available[r % len(available)]
        return r % num_partitions

    def update(self, state: StickyPartitionState, partition: int, appended_bytes: int,
               enable_switch: bool, num_partitions: int, available: Sequence[int]) -> None:
        """After an append: count bytes and switch when the rule says so."""
        if state.index != partition:
            return   # another thread switched already
        produced = state.produced_bytes + appended_bytes
        state.produced_bytes = produced
        if (produced >= self.sticky_batch_size and enable_switch) or \
                produced >= 2 * self.sticky_batch_size:
            state.index = self._next_partition(state, num_partitions, available)
            state.produced_bytes = 0

    @staticmethod
    def update_load_stats(state: StickyPartitionState, partitions: Sequence[int],
                          queue_sizes: Sequence[int], num_partitions: int) -> None:
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
