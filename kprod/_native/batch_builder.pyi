"""Kafka RecordBatch v2 builder (Kafka's DefaultRecordBatch / DefaultRecord; KIP-98
producer fields; KIP-390 compression levels)."""
from typing import Optional, Sequence, Tuple, Union, final

from kprod._native.bufferpool import PooledBuffer

__all__ = ["RecordBatchBuilder"]

_BytesLike = Union[bytes, bytearray, memoryview]
_Header = Tuple[Union[str, bytes], Optional[_BytesLike]]

@final
class RecordBatchBuilder:
    def __new__(
        cls,
        buffer: PooledBuffer,
        *,
        compression: int = 0,
        compression_level: Optional[int] = None,
        write_limit: Optional[int] = None,
        producer_id: int = -1,
        producer_epoch: int = -1,
        base_sequence: int = -1,
        transactional: bool = False,
        estimated_compression_ratio: float = 1.0,
    ) -> RecordBatchBuilder: ...
    def append_many(self, timestamp_ms: int, values: Sequence[Optional[bytes]],
                    keys: Optional[Sequence[Optional[bytes]]] = None, start: int = 0) -> int: ...
    def append(
        self,
        timestamp_ms: int,
        key: Optional[_BytesLike],
        value: Optional[_BytesLike],
        headers: Optional[Sequence[_Header]] = None,
    ) -> int:
        """Offset delta of the record, or -1 when it does not fit."""
    def has_room_for(
        self,
        key_len: int,
        value_len: int,
        headers: Optional[Sequence[_Header]] = None,
        timestamp_ms: Optional[int] = None,
    ) -> bool: ...
    def close(self) -> memoryview: ...
    def restamp(self, producer_id: int, producer_epoch: int, base_sequence: int,
                transactional: bool) -> None: ...
    def release_buffer(self) -> None: ...
    @property
    def estimated_size_in_bytes(self) -> int: ...
    @property
    def size_in_bytes(self) -> int: ...
    @property
    def uncompressed_size_in_bytes(self) -> int: ...
    @property
    def num_records(self) -> int: ...
    @property
    def max_record_size(self) -> int: ...
    @property
    def is_full(self) -> bool: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def write_limit(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def buffer(self) -> PooledBuffer: ...
    @property
    def compression(self) -> int: ...
    @property
    def compression_level(self) -> Optional[int]: ...
    @property
    def compression_ratio(self) -> float: ...
    @property
    def producer_id(self) -> int: ...
    @property
    def producer_epoch(self) -> int: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def is_transactional(self) -> bool: ...
    @property
    def base_timestamp(self) -> Optional[int]: ...
    @property
    def max_timestamp(self) -> Optional[int]: ...
