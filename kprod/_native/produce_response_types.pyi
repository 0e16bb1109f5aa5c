"""The objects a ProduceResponse v3-v13 decodes into (Kafka's ProduceResponse.json)."""
import uuid
from typing import List, Optional, Tuple

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

NO_LEADER: LeaderIdAndEpoch   # -1/-1: no CurrentLeader hint
ZERO_TOPIC_ID: uuid.UUID      # a topic's id before v13
