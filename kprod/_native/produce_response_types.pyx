# cython: language_level=3
"""The objects a ProduceResponse (versions 3 to 13) decodes into, named as in Kafka's
ProduceResponse.json; produce_response.pyx fills them. Read-only, slotted (cdef)
structs: the fields are declared in produce_response_types.pxd, so the decoder sets
them without a Python call.

GIL: held (Python objects only).
"""
cimport cython

import uuid as _uuid

__all__ = [
    "ProduceResponse", "TopicProduceResponse", "PartitionProduceResponse",
    "BatchIndexAndErrorMessage", "LeaderIdAndEpoch", "NodeEndpoint",
    "NO_LEADER", "ZERO_TOPIC_ID",
]

ZERO_TOPIC_ID = _uuid.UUID(int=0)      # the topic id of every topic before v13


# Equality and repr (for tests and logs) go field by field through FIELDS.
cdef object struct_equal(object a, object b, tuple names):
    if type(a) is not type(b):
        return NotImplemented
    for name in names:
        if getattr(a, name) != getattr(b, name):
            return False
    return True


cdef str struct_repr(object o, tuple names):
    return type(o).__name__ + "(" + ", ".join(
        f"{name}={getattr(o, name)!r}" for name in names) + ")"


@cython.freelist(16)
cdef class LeaderIdAndEpoch:
    """KIP-951 CurrentLeader of a partition response; -1/-1 when not sent."""
    FIELDS = ("leader_id", "leader_epoch")

    def __init__(self, int32_t leader_id=-1, int32_t leader_epoch=-1):
        self.leader_id = leader_id
        self.leader_epoch = leader_epoch

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __hash__(self):
        return hash((self.leader_id, self.leader_epoch))

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


NO_LEADER = LeaderIdAndEpoch(-1, -1)     # the CurrentLeader when none was sent (shared)
cdef LeaderIdAndEpoch _no_leader = NO_LEADER


@cython.freelist(8)
cdef class BatchIndexAndErrorMessage:
    """One record a broker refused (v8+, KIP-467)."""
    FIELDS = ("batch_index", "batch_index_error_message")

    def __init__(self, int32_t batch_index, batch_index_error_message=None):
        self.batch_index = batch_index
        self.batch_index_error_message = batch_index_error_message

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


@cython.freelist(64)
cdef class PartitionProduceResponse:
    FIELDS = ("index", "error_code", "base_offset", "log_append_time_ms", "log_start_offset",
              "record_errors", "error_message", "current_leader")

    def __init__(self, int32_t index, int16_t error_code=0, int64_t base_offset=-1,
                 int64_t log_append_time_ms=-1, int64_t log_start_offset=-1,
                 list record_errors=None, error_message=None,
                 LeaderIdAndEpoch current_leader=None):
        self.index = index
        self.error_code = error_code
        self.base_offset = base_offset
        self.log_append_time_ms = log_append_time_ms
        self.log_start_offset = log_start_offset
        self.record_errors = [] if record_errors is None else record_errors
        self.error_message = error_message
        self.current_leader = _no_leader if current_leader is None else current_leader

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


@cython.freelist(8)
cdef class TopicProduceResponse:
    FIELDS = ("name", "topic_id", "partition_responses")

    def __init__(self, str name="", topic_id=None, list partition_responses=None):
        self.name = name
        self.topic_id = ZERO_TOPIC_ID if topic_id is None else topic_id
        self.partition_responses = [] if partition_responses is None else partition_responses

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


cdef class NodeEndpoint:
    """KIP-951 endpoint of a leader named in a CurrentLeader hint."""
    FIELDS = ("node_id", "host", "port", "rack")

    def __init__(self, int32_t node_id, str host, int32_t port, rack=None):
        self.node_id = node_id
        self.host = host
        self.port = port
        self.rack = rack

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


cdef class ProduceResponse:
    FIELDS = ("responses", "throttle_time_ms", "node_endpoints")

    def __init__(self, list responses=None, int32_t throttle_time_ms=0,
                 list node_endpoints=None):
        self.responses = [] if responses is None else responses
        self.throttle_time_ms = throttle_time_ms
        self.node_endpoints = [] if node_endpoints is None else node_endpoints

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)
