"""One record's encoding in a RecordBatch v2 (Kafka's DefaultRecord): the size rule."""
from typing import Optional, Sequence, Tuple, Union

__all__ = ["record_size_upper_bound", "RECORD_BATCH_OVERHEAD",
           "MAX_RECORD_OVERHEAD"]

_BytesLike = Union[bytes, bytearray, memoryview]
_Header = Tuple[Union[str, bytes], Optional[_BytesLike]]

RECORD_BATCH_OVERHEAD: int  # 61
MAX_RECORD_OVERHEAD: int    # 21

def record_size_upper_bound(key: Optional[_BytesLike], value: Optional[_BytesLike],
                            headers: Optional[Sequence[_Header]] = None) -> int: ...
