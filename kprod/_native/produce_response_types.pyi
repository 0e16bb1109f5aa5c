"""The objects a ProduceResponse v3-v13 decodes into (Kafka's ProduceResponse.json)."""
import uuid
from typing import List, Optional, Tuple, final

__all__ = [
    "ProduceResponse", "TopicProduceResponse", "PartitionProduceResponse",
    "BatchIndexAndErrorMessage", "LeaderIdAndEpoch", "NodeEndpoint",
    "NO_LEADER", "ZERO_TOPIC_ID",
]

@final
class LeaderIdAndEpoch:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def leader_id(self) -> int: ...      # -1 when the broker sent no hint
    @property
    def leader_epoch(self) -> int: ...
    def __init__(self, leader_id: int = -1, leader_epoch: int = -1) -> None: ...

@final
class BatchIndexAndErrorMessage:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def batch_index(self) -> int: ...
    @property
    def batch_index_error_message(self) -> Optional[str]: ...
    def __init__(self, batch_index: int,
                 batch_index_error_message: Optional[str] = None) -> None: ...

@final
class PartitionProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def index(self) -> int: ...
    @property
    def error_code(self) -> int: ...
    @property
    def base_offset(self) -> int: ...
    @property
    def log_append_time_ms(self) -> int: ...
    @property
    def log_start_offset(self) -> int: ...
    @property
    def record_errors(self) -> List[BatchIndexAndErrorMessage]: ...
    @property
    def error_message(self) -> Optional[str]: ...
    @property
    def current_leader(self) -> LeaderIdAndEpoch: ...
    def __init__(self, index: int, error_code: int = 0, base_offset: int = -1,
                 log_append_time_ms: int = -1, log_start_offset: int = -1,
                 record_errors: Optional[List[BatchIndexAndErrorMessage]] = None,
                 error_message: Optional[str] = None,
                 current_leader: Optional[LeaderIdAndEpoch] = None) -> None: ...

@final
class TopicProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def name(self) -> str: ...            # "" in v13
    @property
    def topic_id(self) -> uuid.UUID: ...  # all zero before v13
    @property
    def partition_responses(self) -> List[PartitionProduceResponse]: ...
    def __init__(self, name: str = "", topic_id: Optional[uuid.UUID] = None,
                 partition_responses: Optional[List[PartitionProduceResponse]] = None) -> None: ...

@final
class NodeEndpoint:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def node_id(self) -> int: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def rack(self) -> Optional[str]: ...
    def __init__(self, node_id: int, host: str, port: int, rack: Optional[str] = None) -> None: ...

@final
class ProduceResponse:
    FIELDS: Tuple[str, ...]   # attribute names, in schema order
    @property
    def responses(self) -> List[TopicProduceResponse]: ...
    @property
    def throttle_time_ms(self) -> int: ...
    @property
    def node_endpoints(self) -> List[NodeEndpoint]: ...
    def __init__(self, responses: Optional[List[TopicProduceResponse]] = None,
                 throttle_time_ms: int = 0,
                 node_endpoints: Optional[List[NodeEndpoint]] = None) -> None: ...

NO_LEADER: LeaderIdAndEpoch     # the CurrentLeader when none was sent (shared)
ZERO_TOPIC_ID: uuid.UUID        # the topic id of every topic before v13
