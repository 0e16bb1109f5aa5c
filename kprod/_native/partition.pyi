from typing import Any, Optional, Sequence, Tuple

class StickyPartitionState:
    topic: str
    index: int
    produced_bytes: int
    cumulative_weights: Optional[list]
    weighted_partitions: Optional[list]
    def __init__(self, topic: str) -> None: ...

class PartitionChooser:
    """Every record's partition: explicit, custom partitioner, murmur2, sticky (KIP-794)."""
    states: dict
    sticky_batch_size: int
    custom: Any
    ignore_keys: bool
    def __init__(self, batch_size: int, partitioner: Any = None, ignore_keys: bool = False,
                 rng: Any = None) -> None: ...
    def state(self, topic: str) -> StickyPartitionState: ...
    def choose(self, topic: str, key: Any, key_bytes: Optional[bytes], value: Any,
               value_bytes: Optional[bytes], partition: Optional[int], info: Any,
               cluster: Any) -> Tuple[int, Optional[StickyPartitionState]]: ...
    def next_partition(self, state: StickyPartitionState, num_partitions: int,
                       available: Sequence[int]) -> int: ...
    def appended(self, state: StickyPartitionState, partition: int, appended_bytes: int,
                 batch_full: bool, num_partitions: int, available: Sequence[int]) -> None: ...
    @staticmethod
    def update_load_stats(state: StickyPartitionState, partitions: Sequence[int],
                          queue_sizes: Sequence[int], num_partitions: int) -> None: ...
