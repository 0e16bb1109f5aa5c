"""Native ProduceResponse v3-v13 decoder: typed objects (KIP-482 flexible versions
from v9, KIP-951 leader hints from v10, KIP-516 topic ids in v13)."""
from typing import Optional, Tuple, Union

from kprod._native.produce_response_types import ProduceResponse

__all__ = ["decode_produce_response", "decode_produce_frame", "MIN_VERSION", "MAX_VERSION"]

_BytesLike = Union[bytes, bytearray, memoryview]

MIN_VERSION: int             # 3
MAX_VERSION: int             # 13

def decode_produce_response(version: int, data: _BytesLike, offset: int = 0) -> ProduceResponse:
    """The body ``data[offset:]`` (after the response header), to its end."""
    ...

def decode_produce_frame(version: int, frame: _BytesLike,
                         expected_correlation_id: Optional[int] = None
                         ) -> Tuple[int, ProduceResponse]:
    """``(correlation_id, response)`` from a frame without its size prefix."""
    ...
