"""Partitioners: Java's keyed murmur2 choice, and the user-facing partitioner API.

Keyed records go to ``toPositive(murmur2(key)) % num_partitions`` over *all*
partitions (Java ``BuiltInPartitioner.partitionForKey``); unkeyed records use
uniform sticky partitioning (KIP-794), implemented next to the accumulator.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

from kprod._native.murmur2 import murmur2, partition_for_key, to_positive

__all__ = [
    "murmur2", "to_positive", "partition_for_key", "Partitioner", "ClusterView",
    "RoundRobinPartitioner",
]


@runtime_checkable
class ClusterView(Protocol):
    """What a custom partitioner may ask about the cluster."""

    def partitions_for_topic(self, topic: str) -> List[int]: ...

    def available_partitions_for_topic(self, topic: str) -> List[int]: ...

    def leader_for(self, topic: str, partition: int) -> Optional[int]: ...


@runtime_checkable
class Partitioner(Protocol):
    """A custom partitioner (Java's ``Partitioner`` interface).

    ``partition`` is called from ``send()`` on the caller's thread and must be
    thread-safe; it returns a partition number in ``[0, num_partitions)``.
    """

    def partition(self, topic: str, key: Any, key_bytes: Optional[bytes], value: Any,
                  value_bytes: Optional[bytes], cluster: ClusterView) -> int: ...


class RoundRobinPartitioner:
    """Java's ``RoundRobinPartitioner``: each topic cycles over its available partitions."""

    def __init__(self) -> None:
        self._counters: Dict[str, "itertools.count[int]"] = {}
        self._lock = threading.Lock()

    def _next(self, topic: str) -> int:
        counter = self._counters.get(topic)
        if counter is None:
            with self._lock:
                counter = self._counters.setdefault(topic, itertools.count())
        return next(counter)  # itertools.count is atomic under the GIL

    def partition(self, topic: str, key: Any, key_bytes: Optional[bytes], value: Any,
                  value_bytes: Optional[bytes], cluster: ClusterView) -> int:
        n = self._next(topic)
        available = cluster.available_partitions_for_topic(topic)
        if available:
            return available[to_positive(n) % len(available)]
        return to_positive(n) % len(cluster.partitions_for_topic(topic))
