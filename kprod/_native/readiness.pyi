from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

__all__ = ["scan_ready", "drain_heads", "queue_lengths", "refresh_load_stats"]

def scan_ready(queues: Dict[Tuple[str, int], Any],
               leader_for: Callable[[Tuple[str, int]], Optional[int]], now: float,
               linger_ms: float, forced: bool,
               by_leader: Optional[Dict[int, List[Tuple[str, int]]]] = None,
               topics: Optional[Dict[str, Any]] = None
               ) -> Tuple[Set[int], float, Set[str]]: ...

def drain_heads(partitions: Sequence[Tuple[str, int]], queues: Dict[Tuple[str, int], Any],
                start: int, max_size: int, now: float, may_drain: Callable[[Any], bool]
                ) -> Tuple[List[Any], int]: ...

def queue_lengths(queues: Dict[Tuple[str, int], Any], keys: List[Tuple[str, int]]
                  ) -> List[int]: ...

def refresh_load_stats(queues: Dict[Tuple[str, int], Any], states: Dict[str, Any],
                       topics: Dict[str, Any], cache: Dict[str, Any], unavailable: Set[int],
                       make_entry: Callable[[str, Any, Any, Set[int]], Any],
                       update_weights: Callable[[Any, List[int], List[int], int], None]
                       ) -> None: ...
