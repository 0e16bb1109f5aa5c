from typing import Tuple

import numpy as np

from kprod._native.column_reader import Column

CHECK_OK: int
CHECK_TOO_LARGE_REQUEST: int
CHECK_TOO_LARGE_MEMORY: int
CHECK_BAD_PARTITION: int

def check_records(count: int, keys: Column, values: Column, explicit: np.ndarray,
                  has_explicit: bool,
                  header_extra: np.ndarray, header_extra_all: int, has_headers: bool,
                  hash_keys: bool, num_partitions: int, max_request_size: int,
                  buffer_memory: int, unchecked_size: int,
                  partitions: np.ndarray) -> Tuple[int, int]: ...
def record_bound(key_length: int, value_length: int, header_extra: int) -> int: ...
def resolve_records(count: int, segment: np.ndarray, delta: np.ndarray,
                    base_offset: np.ndarray, append_time: np.ndarray, failed: np.ndarray,
                    record_timestamps: np.ndarray, timestamp: int, offsets: np.ndarray,
                    timestamps: np.ndarray) -> int: ...
