"""Native ProduceResponse v3-v13 decoder: typed objects (KIP-482 flexible versions
from v9, KIP-951 leader hints from v10, KIP-516 topic ids in v13)."""
import uuid
from typing import List, Optional, Tuple, Union

_BytesLike = Union[bytes, bytearray, memoryview]

MIN_VERSION: int             # 3
MAX_VERSION: int             # 13

def decode_produce_response(version: int, data: _BytesLike, offset: int = 0) -> "ProduceResponse":
    """The body ``data[offset:]`` (after the response header), to its end."""
    ...

def decode_produce_frame(version: int, frame: _BytesLike,
                         expected_correlation_id: Optional[int] = None
                         ) -> Tuple[int, "ProduceResponse"]:
    """``(correlation_id, response)`` from a frame without its size prefix."""
    ...

class LeaderIdAndEpoch:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    leader_id: int      # -1 when the broker sent no hint
    leader_epoch: int
    def __init__(self, leader_id: int = -1, leader_epoch: int = -1) -> None: ...

class BatchIndexAndErrorMessage:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    batch_index: int
    batch_index_error_message: Optional[str]
    def __init__(self, batch_index: int,
                 batch_index_error_message: Optional[str] = None) -> None: ...

class PartitionProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    index: int
    error_code: int
    base_offset: int
    log_append_time_ms: int
    log_start_offset: int
    record_errors: List[BatchIndexAndErrorMessage]
    error_message: Optional[str]
    current_leader: LeaderIdAndEpoch
    def __init__(self, index: int, error_code: int = 0, base_offset: int = -1,
                 log_append_time_ms: int = -1, log_start_offset: int = -1,
                 record_errors: Optional[List[BatchIndexAndErrorMessage]] = None,
                 error_message: Optional[str] = None,
                 current_leader: Optional[LeaderIdAndEpoch] = None) -> None: ...

class TopicProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    name: str            # "" in v13
    topic_id: uuid.UUID  # all zero before v13
    partition_responses: List[PartitionProduceResponse]
    def __init__(self, name: str = "", topic_id: Optional[uuid.UUID] = None,
                 partition_responses: Optional[List[PartitionProduceResponse]] = None) -> None: ...

class NodeEndpoint:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    node_id: int
    host: str
    port: int
    rack: Optional[str]
    def __init__(self, node_id: int, host: str, port: int, rack: Optional[str] = None) -> None: ...

class ProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    responses: List[TopicProduceResponse]
    throttle_time_ms: int
    node_endpoints: List[NodeEndpoint]
    def __init__(self, responses: Optional[List[TopicProduceResponse]] = None,
                 throttle_time_ms: int = 0,
                 node_endpoints: Optional[List[NodeEndpoint]] = None) -> None: ...
