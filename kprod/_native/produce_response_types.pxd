# The ProduceResponse objects (produce_response_types.pyx), declared for the decoder
# (produce_response.pyx), which sets their fields directly.
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t


@cython.final
cdef class LeaderIdAndEpoch:
    cdef readonly int32_t leader_id
    cdef readonly int32_t leader_epoch


@cython.final
cdef class BatchIndexAndErrorMessage:
    cdef readonly int32_t batch_index
    cdef readonly object batch_index_error_message   # str | None


@cython.final
cdef class PartitionProduceResponse:
    cdef readonly int32_t index
    cdef readonly int16_t error_code
    cdef readonly int64_t base_offset
    cdef readonly int64_t log_append_time_ms
    cdef readonly int64_t log_start_offset
    cdef readonly list record_errors          # [BatchIndexAndErrorMessage]
    cdef readonly object error_message        # str | None
    cdef readonly LeaderIdAndEpoch current_leader


@cython.final
cdef class TopicProduceResponse:
    cdef readonly str name                    # "" in v13 (topic ids)
    cdef readonly object topic_id             # uuid.UUID; all zero before v13
    cdef readonly list partition_responses    # [PartitionProduceResponse]


@cython.final
cdef class NodeEndpoint:
    cdef readonly int32_t node_id
    cdef readonly str host
    cdef readonly int32_t port
    cdef readonly object rack                 # str | None


@cython.final
cdef class ProduceResponse:
    cdef readonly list responses              # [TopicProduceResponse]
    cdef readonly int32_t throttle_time_ms
    cdef readonly list node_endpoints         # [NodeEndpoint]
