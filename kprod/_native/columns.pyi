from typing import Any, Callable, List, Optional, Tuple, final

import numpy as np

CHECK_OK: int
CHECK_TOO_LARGE_REQUEST: int
CHECK_TOO_LARGE_MEMORY: int
CHECK_BAD_PARTITION: int

def spans_from_objects(items: Tuple[Any, ...], address: np.ndarray, length: np.ndarray,
                       keep: List[bytes]) -> int: ...
def spans_fixed(data: int, count: int, itemsize: int, strip_nuls: bool, validity: int,
                bit_offset: int, address: np.ndarray, length: np.ndarray,
                start: int) -> None: ...
def spans_offsets(data: int, data_size: int, offsets: int, large: bool, offset: int,
                  count: int, validity: int, address: np.ndarray, length: np.ndarray,
                  start: int) -> int: ...
def check_records(count: int, key_address: np.ndarray, key_length: np.ndarray,
                  value_length: np.ndarray, explicit: np.ndarray, has_explicit: bool,
                  header_extra: np.ndarray, header_extra_all: int, has_headers: bool,
                  hash_keys: bool, num_partitions: int, max_request_size: int,
                  buffer_memory: int, partitions: np.ndarray) -> Tuple[int, int]: ...
def record_bound(key_length: int, value_length: int, header_extra: int) -> int: ...

@final
class BulkAppender:
    @property
    def segments(self) -> List[Any]: ...
    @property
    def out_segment(self) -> np.ndarray: ...
    @property
    def out_delta(self) -> np.ndarray: ...
    @property
    def out_partition(self) -> np.ndarray: ...
    @property
    def appended(self) -> int: ...
    def __init__(self, accumulator: Any, topic: str, info: Any, chooser: Any, count: int,
                 key_address: np.ndarray, key_length: np.ndarray, value_address: np.ndarray,
                 value_length: np.ndarray, partitions: np.ndarray, timestamps: np.ndarray,
                 timestamp: int, headers: Any, header_extra: np.ndarray,
                 header_extra_all: int, max_block_ms: float, wakeup: Callable[[], Any],
                 on_partition: Optional[Callable[[Tuple[str, int]], Any]]) -> None: ...
    def queue_all(self) -> int: ...
    def run(self) -> None: ...
