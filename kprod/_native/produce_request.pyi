"""Native ProduceRequest v3-v13 encoder: sendmsg chunks, record batches never copied
(KIP-482 flexible versions from v9, KIP-516 topic ids in v13)."""
import uuid
from typing import Any, List, Optional, Sequence, Tuple, Union

__all__ = ["encode_produce_request", "PRODUCE_KEY", "MIN_VERSION", "MAX_VERSION",
           "FIRST_FLEXIBLE_VERSION"]

_BytesLike = Union[bytes, bytearray, memoryview]
_Records = Union[_BytesLike, Sequence[_BytesLike], None]
_TopicRef = Union[str, bytes, uuid.UUID]   # name (v3-v12) or topic id (v13)

PRODUCE_KEY: int             # 0
MIN_VERSION: int             # 3
MAX_VERSION: int             # 13
FIRST_FLEXIBLE_VERSION: int  # 9

def encode_produce_request(
    version: int,
    correlation_id: int,
    client_id: Optional[str],
    transactional_id: Optional[str],
    acks: int,
    timeout_ms: int,
    topics: Sequence[Tuple[_TopicRef, Sequence[Tuple[int, _Records]]]],
) -> Tuple[List[Any], int]:
    """``(chunks, size)``: the frame (4-byte size prefix first) as bytes objects
    interleaved with the caller's record objects; ``size`` is the value of the
    size prefix (the frame is ``size + 4`` bytes)."""
    ...
