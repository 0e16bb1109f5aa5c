# cython: language_level=3
"""Native Produce codec: ProduceRequest encoder, ProduceResponse decoder.

Same wire layout as the declarative schemas in
``kprod/_internals/protocol/messages/produce.py`` (Kafka's ProduceRequest.json /
ProduceResponse.json), versions 3 to 13:

- v3-v8: request header v1, response header v0, int16-length strings, int32
  array counts and byte lengths.
- v9+ (KIP-482, flexible): request header v2, response header v1, compact
  strings / arrays / bytes (unsigned varint holding length + 1, 0 = null) and
  a tagged-field section after every struct. The request header's client_id
  keeps the int16 form even in v2.
- v10+ (KIP-951): tagged CurrentLeader (tag 0 of a partition response) and
  NodeEndpoints (tag 0 of the response) carry leader hints.
- v13 (KIP-516): topics are named by their 16-byte id instead of their name.

Encoding: the header and the topic/partition framing go into one scratch
buffer; the request comes back as a list of chunks for ``socket.sendmsg``
where the framing bytes alternate with the caller's record-batch objects
themselves (never copied), so one gathered write sends the whole request.

Decoding: a pointer + end cursor; every read is bounds-checked and malformed
input raises :class:`kprod.errors.ProtocolError` naming the field with its
indices (``responses[0].partition_responses[1].base_offset``). Array counts
are checked against the bytes left (each element has a minimum size) before
anything is allocated.

GIL: held throughout. Both directions create or touch Python objects at
every step (topic names, record objects, result objects) and the messages
are small (tens to hundreds of bytes of framing), so releasing it would cost
more than it could give.
"""
cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from kprod._native.byteorder cimport (
    kprod_as_i16, kprod_as_i32, kprod_as_i64, kprod_load_be16, kprod_load_be32,
    kprod_load_be64, kprod_span, kprod_store_be16, kprod_store_be32, kprod_store_be64,
)
from kprod._native.varint cimport write_uvarint32

import uuid as _uuid

from kprod.errors import ProtocolError

__all__ = [
    "encode_produce_request", "decode_produce_response", "decode_produce_frame",
    "ProduceResponse", "TopicProduceResponse", "PartitionProduceResponse",
    "BatchIndexAndErrorMessage", "LeaderIdAndEpoch", "NodeEndpoint",
    "PRODUCE_KEY", "MIN_VERSION", "MAX_VERSION", "FIRST_FLEXIBLE_VERSION",
]

PRODUCE_KEY = 0
MIN_VERSION = 3
MAX_VERSION = 13
FIRST_FLEXIBLE_VERSION = 9      # KIP-482
cdef enum:
    FLEXIBLE_FROM = 9
    LEADER_HINTS_FROM = 10      # KIP-951
    TOPIC_IDS_FROM = 13         # KIP-516
    RECORD_ERRORS_FROM = 8
    LOG_START_OFFSET_FROM = 5
    MAX_STRING = 0x7FFF
    STACK_BYTES = 1024

cdef object _UUID = _uuid.UUID
cdef object _ZERO_UUID = _uuid.UUID(int=0)

# Topic ids repeat in every request and response of a producer; building a
# uuid.UUID (or its .bytes) costs more than the rest of a topic's framing, so
# both directions keep the ones seen (bounded: cleared when full).
cdef enum:
    ID_CACHE_SIZE = 4096
cdef dict _uuid_by_bytes = {}
cdef dict _bytes_by_uuid = {}


cdef object topic_uuid(bytes raw):
    cdef object found = _uuid_by_bytes.get(raw)
    if found is None:
        found = _UUID(bytes=raw)
        if len(_uuid_by_bytes) >= ID_CACHE_SIZE:
            _uuid_by_bytes.clear()
        _uuid_by_bytes[raw] = found
    return found


cdef bytes topic_id_bytes(object topic_id):
    cdef object found = _bytes_by_uuid.get(topic_id)
    if found is None:
        found = topic_id.bytes
        if type(found) is not bytes:
            raise TypeError(f"ProduceRequest.topic_data[].topic_id: {topic_id!r}.bytes is "
                            f"not bytes")
        if len(_bytes_by_uuid) >= ID_CACHE_SIZE:
            _bytes_by_uuid.clear()
        _bytes_by_uuid[topic_id] = found
    return <bytes>found


# ===================================================================== encoder

cdef struct Scratch:
    uint8_t* data       # the stack buffer or a heap block
    Py_ssize_t length
    Py_ssize_t capacity
    bint heap


cdef int reserve(Scratch* s, Py_ssize_t extra) except -1:
    """Room for ``extra`` more bytes (the framing only: a few bytes a partition)."""
    cdef Py_ssize_t want = s.length + extra
    cdef Py_ssize_t capacity
    cdef uint8_t* grown
    if want <= s.capacity:
        return 0
    capacity = s.capacity * 2
    if capacity < want:
        capacity = want
    grown = <uint8_t*>malloc(capacity)
    if grown == NULL:
        raise MemoryError()
    memcpy(grown, s.data, s.length)
    if s.heap:
        free(s.data)
    s.data = grown
    s.capacity = capacity
    s.heap = True
    return 0


cdef inline void put16(Scratch* s, int16_t v) noexcept:
    kprod_store_be16(s.data + s.length, <uint16_t>v)
    s.length += 2


cdef inline void put32(Scratch* s, int32_t v) noexcept:
    kprod_store_be32(s.data + s.length, <uint32_t>v)
    s.length += 4


cdef inline void put_uvarint(Scratch* s, uint32_t v) noexcept:
    s.length = kprod_span(s.data, write_uvarint32(s.data + s.length, v))


cdef int put_string(Scratch* s, object value, bint compact, bint nullable,
                    str field) except -1:
    """int16-length or compact (KIP-482) string; None only if nullable."""
    cdef const char* utf8
    cdef Py_ssize_t n
    if value is None:
        if not nullable:
            raise TypeError(f"ProduceRequest.{field}: None is not allowed")
        reserve(s, 2)
        if compact:
            s.data[s.length] = 0
            s.length += 1
        else:
            put16(s, -1)
        return 0
    if type(value) is not str:
        raise TypeError(f"ProduceRequest.{field}: expected str, got {type(value).__name__}")
    utf8 = PyUnicode_AsUTF8AndSize(value, &n)
    if n > MAX_STRING:   # Java refuses these too
        raise ValueError(f"ProduceRequest.{field}: {n} bytes exceed the maximum string "
                         f"length {MAX_STRING}")
    reserve(s, n + 5)
    if compact:
        put_uvarint(s, <uint32_t>(n + 1))
    else:
        put16(s, <int16_t>n)
    memcpy(s.data + s.length, utf8, n)
    s.length += n
    return 0


cdef int32_t as_int32(object value, str field) except? -1:
    cdef long long v
    try:
        v = value
    except OverflowError:
        v = -0x80000001
    if v < -0x80000000 or v > 0x7FFFFFFF:
        raise ValueError(f"ProduceRequest.{field}: {value} is outside the int32 range")
    return <int32_t>v


cdef int16_t as_int16(object value, str field) except? -1:
    cdef long long v
    try:
        v = value
    except OverflowError:
        v = -0x8001
    if v < -0x8000 or v > 0x7FFF:
        raise ValueError(f"ProduceRequest.{field}: {value} is outside the int16 range")
    return <int16_t>v


cdef Py_ssize_t buffer_length(object batch, str field) except -1:
    """Byte length of one bytes-like record batch (must be C-contiguous)."""
    cdef Py_buffer view
    if type(batch) is bytes:
        return PyBytes_GET_SIZE(batch)
    try:
        PyObject_GetBuffer(batch, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError) as exc:
        raise TypeError(f"ProduceRequest.{field}: records must be a contiguous bytes-like "
                        f"object ({exc})") from None
    n = view.len
    PyBuffer_Release(&view)
    return n


cdef inline object segment(Scratch* s, Py_ssize_t start):
    return PyBytes_FromStringAndSize(<char*>s.data + start, s.length - start)


def encode_produce_request(int version, correlation_id, client_id, transactional_id,
                           acks, timeout_ms, topics):
    """Encode a ProduceRequest frame (size prefix, header, body) as sendmsg chunks.

    ``topics``: a sequence of ``(topic, partitions)``; ``topic`` is the name
    (str) for v3-v12 and the topic id (16 bytes or uuid.UUID) for v13;
    ``partitions`` a sequence of ``(partition_index, records)`` where
    ``records`` is one bytes-like RecordBatch (or a list/tuple of them back to
    back, or None for a null records field).

    Returns ``(chunks, size)``: ``chunks`` the framing as bytes objects
    interleaved with the record objects themselves (unchanged, never copied);
    ``size`` the value written into the 4-byte size prefix, i.e. the frame is
    ``size + 4`` bytes (as ``EncodedRequest.size`` of the Python codec).
    """
    if version < MIN_VERSION or version > MAX_VERSION:
        raise ValueError(f"ProduceRequest has no version {version} (valid: "
                         f"{MIN_VERSION}-{MAX_VERSION})")
    cdef bint flexible = version >= FLEXIBLE_FROM
    cdef bint topic_ids = version >= TOPIC_IDS_FROM
    cdef uint8_t stack[STACK_BYTES]
    cdef Scratch s
    s.data = stack
    s.length = 0
    s.capacity = STACK_BYTES
    s.heap = False
    cdef list chunks = [None]          # chunks[0]: the first segment, filled at the end
    cdef Py_ssize_t first_end = -1     # end of the first segment in the scratch
    cdef Py_ssize_t start = 0          # start of the current segment
    cdef Py_ssize_t records_bytes = 0  # bytes of all record objects
    cdef Py_ssize_t n, size, topic_count, partition_count, i, j, k, parts_count
    cdef int32_t correlation = as_int32(correlation_id, "correlation_id")
    cdef int16_t acks16 = as_int16(acks, "acks")
    cdef int32_t timeout = as_int32(timeout_ms, "timeout_ms")
    cdef object topic_entry, topic, partitions, partition_entry, records, part
    cdef tuple topic_list, partition_tuple, parts_tuple
    cdef const char* raw
    cdef bytes id_bytes
    try:
        # Tuples: the counts written stay true even if a caller's list changed
        # while Python code ran (a buffer export, a UUID property).
        topic_list = topics if type(topics) is tuple else tuple(topics)
        topic_count = len(topic_list)
        reserve(&s, 16)
        s.length = 4                   # size prefix, written last
        put16(&s, PRODUCE_KEY)
        put16(&s, <int16_t>version)
        put32(&s, correlation)
        put_string(&s, client_id, False, True, "client_id")   # always int16 form
        if flexible:
            reserve(&s, 1)
            s.data[s.length] = 0       # header v2: no tagged fields
            s.length += 1
        put_string(&s, transactional_id, flexible, True, "transactional_id")
        reserve(&s, 16)
        put16(&s, acks16)
        put32(&s, timeout)
        if flexible:
            put_uvarint(&s, <uint32_t>(topic_count + 1))
        else:
            put32(&s, <int32_t>topic_count)
        for i in range(topic_count):
            topic_entry = topic_list[i]
            topic, partitions = topic_entry
            if topic_ids:
                if type(topic) is bytes:
                    id_bytes = <bytes>topic
                elif isinstance(topic, _UUID):
                    id_bytes = topic_id_bytes(topic)
                else:
                    raise TypeError(f"ProduceRequest.topic_data[{i}].topic_id: expected a "
                                    f"uuid.UUID or 16 bytes, got {type(topic).__name__}")
                if PyBytes_GET_SIZE(id_bytes) != 16:
                    raise ValueError(f"ProduceRequest.topic_data[{i}].topic_id: "
                                     f"{PyBytes_GET_SIZE(id_bytes)} bytes, expected 16")
                reserve(&s, 16)
                memcpy(s.data + s.length, PyBytes_AS_STRING(id_bytes), 16)
                s.length += 16
            else:
                put_string(&s, topic, flexible, False, "topic_data[].name")
            partition_tuple = partitions if type(partitions) is tuple else tuple(partitions)
            partition_count = len(partition_tuple)
            reserve(&s, 5)
            if flexible:
                put_uvarint(&s, <uint32_t>(partition_count + 1))
            else:
                put32(&s, <int32_t>partition_count)
            for j in range(partition_count):
                partition_entry = partition_tuple[j]
                index, records = partition_entry
                reserve(&s, 16)
                put32(&s, as_int32(index, "topic_data[].partition_data[].index"))
                if records is None:     # nullable: -1 / compact 0
                    if flexible:
                        s.data[s.length] = 0
                        s.length += 1
                    else:
                        put32(&s, -1)
                else:
                    if type(records) is list or type(records) is tuple:
                        parts_tuple = tuple(records)
                        n = 0
                        for part in parts_tuple:
                            n += buffer_length(part, "topic_data[].partition_data[].records")
                        parts_count = len(parts_tuple)
                    else:
                        n = buffer_length(records, "topic_data[].partition_data[].records")
                        parts_count = -1
                    if n > 0x7FFFFFFE:
                        raise ValueError(f"ProduceRequest.topic_data[{i}].partition_data[{j}]"
                                         f".records: {n} bytes exceed the int32 limit")
                    if flexible:
                        put_uvarint(&s, <uint32_t>(n + 1))
                    else:
                        put32(&s, <int32_t>n)
                    if n:
                        # Close the framing segment; the batch goes in as it is.
                        if first_end < 0:
                            first_end = s.length
                        else:
                            chunks.append(segment(&s, start))
                        if parts_count < 0:
                            chunks.append(records)
                        else:
                            for k in range(parts_count):
                                part = parts_tuple[k]
                                if buffer_length(part, "records"):
                                    chunks.append(part)
                        records_bytes += n
                        start = s.length
                if flexible:
                    s.data[s.length] = 0   # partition: no tagged fields
                    s.length += 1
            if flexible:
                reserve(&s, 1)
                s.data[s.length] = 0       # topic: no tagged fields
                s.length += 1
        if flexible:
            reserve(&s, 1)
            s.data[s.length] = 0           # request: no tagged fields
            s.length += 1
        size = s.length - 4 + records_bytes
        if size > 0x7FFFFFFF:
            raise ValueError(f"ProduceRequest: encoded size {size} exceeds the protocol's "
                             f"int32 limit")
        kprod_store_be32(s.data, <uint32_t>size)
        if first_end < 0:
            chunks[0] = segment(&s, 0)
        else:
            chunks[0] = PyBytes_FromStringAndSize(<char*>s.data, first_end)
            if s.length > start:
                chunks.append(segment(&s, start))
        return chunks, size
    finally:
        if s.heap:
            free(s.data)


# ============================================================ response objects
# Read-only, slotted (cdef) structs named as in ProduceResponse.json; equality
# and repr (for tests and logs) go field by field through FIELDS.

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


@cython.final
@cython.freelist(16)
cdef class LeaderIdAndEpoch:
    """KIP-951 CurrentLeader of a partition response; -1/-1 when not sent."""
    cdef readonly int32_t leader_id
    cdef readonly int32_t leader_epoch
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


cdef LeaderIdAndEpoch NO_LEADER = LeaderIdAndEpoch(-1, -1)   # immutable: shared


@cython.final
@cython.freelist(8)
cdef class BatchIndexAndErrorMessage:
    """One record a broker refused (v8+, KIP-467)."""
    cdef readonly int32_t batch_index
    cdef readonly object batch_index_error_message   # str | None
    FIELDS = ("batch_index", "batch_index_error_message")

    def __init__(self, int32_t batch_index, batch_index_error_message=None):
        self.batch_index = batch_index
        self.batch_index_error_message = batch_index_error_message

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


@cython.final
@cython.freelist(64)
cdef class PartitionProduceResponse:
    cdef readonly int32_t index
    cdef readonly int16_t error_code
    cdef readonly int64_t base_offset
    cdef readonly int64_t log_append_time_ms
    cdef readonly int64_t log_start_offset
    cdef readonly list record_errors          # [BatchIndexAndErrorMessage]
    cdef readonly object error_message        # str | None
    cdef readonly LeaderIdAndEpoch current_leader
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
        self.current_leader = NO_LEADER if current_leader is None else current_leader

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


@cython.final
@cython.freelist(8)
cdef class TopicProduceResponse:
    cdef readonly str name                    # "" in v13 (topic ids)
    cdef readonly object topic_id             # uuid.UUID; all zero before v13
    cdef readonly list partition_responses    # [PartitionProduceResponse]
    FIELDS = ("name", "topic_id", "partition_responses")

    def __init__(self, str name="", topic_id=None, list partition_responses=None):
        self.name = name
        self.topic_id = _ZERO_UUID if topic_id is None else topic_id
        self.partition_responses = [] if partition_responses is None else partition_responses

    def __eq__(self, other):
        return struct_equal(self, other, self.FIELDS)

    def __repr__(self):
        return struct_repr(self, self.FIELDS)


@cython.final
cdef class NodeEndpoint:
    """KIP-951 endpoint of a leader named in a CurrentLeader hint."""
    cdef readonly int32_t node_id
    cdef readonly str host
    cdef readonly int32_t port
    cdef readonly object rack                 # str | None
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


@cython.final
cdef class ProduceResponse:
    cdef readonly list responses              # [TopicProduceResponse]
    cdef readonly int32_t throttle_time_ms
    cdef readonly list node_endpoints         # [NodeEndpoint]
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


# ===================================================================== decoder

# Where a field lives, for error messages: its scope decides which indices
# prefix it.
cdef enum Scope:
    TOP
    TOPIC
    PARTITION
    RECORD_ERROR
    LEADER
    NODE

cdef enum Field:
    F_CORRELATION_ID
    F_HEADER_TAGS
    F_RESPONSES
    F_THROTTLE
    F_TOP_TAGS
    F_NODE_ENDPOINTS
    F_NAME
    F_TOPIC_ID
    F_PARTITION_RESPONSES
    F_TOPIC_TAGS
    F_INDEX
    F_ERROR_CODE
    F_BASE_OFFSET
    F_LOG_APPEND_TIME
    F_LOG_START_OFFSET
    F_RECORD_ERRORS
    F_ERROR_MESSAGE
    F_PARTITION_TAGS
    F_BATCH_INDEX
    F_BATCH_MESSAGE
    F_RECORD_ERROR_TAGS
    F_LEADER_ID
    F_LEADER_EPOCH
    F_LEADER_TAGS
    F_NODE_ID
    F_HOST
    F_PORT
    F_RACK
    F_NODE_TAGS
    F_TRAILING

# (scope, name) by Field value.
cdef tuple _FIELDS = (
    (TOP, "<response header>.correlation_id"), (TOP, "<response header>.tagged_fields"),
    (TOP, "responses"), (TOP, "throttle_time_ms"), (TOP, "tagged_fields"),
    (TOP, "node_endpoints"),
    (TOPIC, "name"), (TOPIC, "topic_id"), (TOPIC, "partition_responses"),
    (TOPIC, "tagged_fields"),
    (PARTITION, "index"), (PARTITION, "error_code"), (PARTITION, "base_offset"),
    (PARTITION, "log_append_time_ms"), (PARTITION, "log_start_offset"),
    (PARTITION, "record_errors"), (PARTITION, "error_message"), (PARTITION, "tagged_fields"),
    (RECORD_ERROR, "batch_index"), (RECORD_ERROR, "batch_index_error_message"),
    (RECORD_ERROR, "tagged_fields"),
    (LEADER, "leader_id"), (LEADER, "leader_epoch"), (LEADER, "tagged_fields"),
    (NODE, "node_id"), (NODE, "host"), (NODE, "port"), (NODE, "rack"), (NODE, "tagged_fields"),
    (TOP, "<end>"),
)


cdef struct Cursor:
    const uint8_t* start
    const uint8_t* p
    const uint8_t* end
    int version
    Py_ssize_t topic        # indices of the element being read, for messages
    Py_ssize_t partition
    Py_ssize_t item


cdef str field_path(Cursor* c, int field):
    scope, name = _FIELDS[field]
    if scope == TOP:
        prefix = ""
    elif scope == NODE:
        prefix = f"node_endpoints[{c.item}]."
    else:
        prefix = f"responses[{c.topic}]."
        if scope == PARTITION:
            prefix += f"partition_responses[{c.partition}]."
        elif scope == RECORD_ERROR:
            prefix += f"partition_responses[{c.partition}].record_errors[{c.item}]."
        elif scope == LEADER:
            prefix += f"partition_responses[{c.partition}].current_leader."
    return prefix + name


cdef int fail(Cursor* c, int field, str what) except -1:
    raise ProtocolError(f"ProduceResponse v{c.version}: {field_path(c, field)}: {what}")


cdef int truncated(Cursor* c, int field, Py_ssize_t need) except -1:
    raise ProtocolError(
        f"ProduceResponse v{c.version}: {field_path(c, field)}: truncated input (need "
        f"{need} bytes at offset {kprod_span(c.start, c.p)}, {kprod_span(c.p, c.end)} left)")


cdef inline int need(Cursor* c, Py_ssize_t n, int field) except -1:
    if kprod_span(c.p, c.end) < n:
        truncated(c, field, n)
    return 0


cdef inline int read_i16(Cursor* c, int16_t* out, int field) except -1:
    need(c, 2, field)
    out[0] = kprod_as_i16(kprod_load_be16(c.p))
    c.p += 2
    return 0


cdef inline int read_i32(Cursor* c, int32_t* out, int field) except -1:
    need(c, 4, field)
    out[0] = kprod_as_i32(kprod_load_be32(c.p))
    c.p += 4
    return 0


cdef inline int read_i64(Cursor* c, int64_t* out, int field) except -1:
    need(c, 8, field)
    out[0] = kprod_as_i64(kprod_load_be64(c.p))
    c.p += 8
    return 0


cdef int read_uvarint(Cursor* c, uint32_t* out, int field) except -1:
    """Unsigned varint of at most 5 bytes and 32 bits (Kafka's readUnsignedVarint)."""
    cdef uint64_t result = 0
    cdef uint32_t b
    cdef int shift = 0
    if c.p < c.end and c.p[0] < 0x80:   # one byte: the usual case
        out[0] = c.p[0]
        c.p += 1
        return 0
    while True:
        if c.p >= c.end:
            truncated(c, field, 1)
        b = c.p[0]
        c.p += 1
        result |= (<uint64_t>(b & 0x7f)) << shift
        if b < 0x80:
            break
        shift += 7
        if shift == 35:
            fail(c, field, "varint longer than 5 bytes")
    if result > 0xFFFFFFFFu:
        fail(c, field, "unsigned varint exceeds 32 bits")
    out[0] = <uint32_t>result
    return 0


cdef object read_string(Cursor* c, bint flexible, bint nullable, int field):
    """int16-length or compact string; None for null (nullable fields only)."""
    cdef uint32_t n32
    cdef Py_ssize_t n
    cdef uint16_t n16
    if flexible:
        read_uvarint(c, &n32, field)
        if n32 == 0:
            if nullable:
                return None
            fail(c, field, "null in a non-nullable compact string")
        if n32 - 1 > MAX_STRING:
            fail(c, field, f"string length {n32 - 1} exceeds the maximum {MAX_STRING}")
        n = n32 - 1
    else:
        need(c, 2, field)
        n16 = kprod_load_be16(c.p)
        c.p += 2
        if n16 >= 0x8000:
            if n16 == 0xFFFF and nullable:
                return None
            fail(c, field, f"invalid string length {<int>n16 - 0x10000}")
        n = n16
    need(c, n, field)
    try:
        s = PyUnicode_DecodeUTF8(<const char*>c.p, n, NULL)
    except UnicodeDecodeError as exc:
        fail(c, field, f"invalid UTF-8 ({exc.reason})")
    c.p += n
    return s


cdef Py_ssize_t read_count(Cursor* c, bint flexible, Py_ssize_t min_element,
                           int field) except -1:
    """Element count of a non-nullable array, refused unless that many elements
    of at least ``min_element`` bytes fit in what is left."""
    cdef uint32_t n32
    cdef int32_t n
    cdef int64_t count
    if flexible:
        read_uvarint(c, &n32, field)
        count = <int64_t>n32 - 1
    else:
        read_i32(c, &n, field)
        count = n
    if count < 0:
        fail(c, field, f"invalid array length {count}")
    if count * min_element > kprod_span(c.p, c.end):
        fail(c, field, f"array of {count} elements cannot fit in the "
                       f"{kprod_span(c.p, c.end)} bytes left")
    return <Py_ssize_t>count


cdef int read_tag_header(Cursor* c, uint32_t* count, int field) except -1:
    """Start of a tagged-field section (KIP-482): the number of fields."""
    read_uvarint(c, count, field)
    if <uint64_t>count[0] * 2 > <uint64_t>kprod_span(c.p, c.end):
        fail(c, field, f"{count[0]} tagged fields cannot fit in the "
                       f"{kprod_span(c.p, c.end)} bytes left")
    return 0


cdef int read_tag(Cursor* c, uint32_t* tag, uint32_t* size, int field) except -1:
    read_uvarint(c, tag, field)
    read_uvarint(c, size, field)
    if size[0] > <uint64_t>kprod_span(c.p, c.end):
        truncated(c, field, size[0])
    return 0


cdef int skip_tags(Cursor* c, int field) except -1:
    """A tagged-field section whose tags are all unknown here."""
    cdef uint32_t count, tag, size, i
    if c.p < c.end and c.p[0] == 0:     # the usual empty section
        c.p += 1
        return 0
    read_tag_header(c, &count, field)
    for i in range(count):
        read_tag(c, &tag, &size, field)
        c.p += size
    return 0


cdef LeaderIdAndEpoch read_leader(Cursor* c):
    cdef LeaderIdAndEpoch leader = LeaderIdAndEpoch.__new__(LeaderIdAndEpoch)
    read_i32(c, &leader.leader_id, F_LEADER_ID)
    read_i32(c, &leader.leader_epoch, F_LEADER_EPOCH)
    skip_tags(c, F_LEADER_TAGS)
    return leader


cdef list read_node_endpoints(Cursor* c):
    cdef Py_ssize_t n = read_count(c, True, 11, F_NODE_ENDPOINTS)
    cdef list out = []
    cdef NodeEndpoint node
    for i in range(n):
        c.item = i
        node = NodeEndpoint.__new__(NodeEndpoint)
        read_i32(c, &node.node_id, F_NODE_ID)
        node.host = read_string(c, True, False, F_HOST)
        read_i32(c, &node.port, F_PORT)
        node.rack = read_string(c, True, True, F_RACK)
        skip_tags(c, F_NODE_TAGS)
        out.append(node)
    return out


cdef PartitionProduceResponse read_partition(Cursor* c, bint flexible):
    cdef PartitionProduceResponse r = PartitionProduceResponse.__new__(PartitionProduceResponse)
    cdef int version = c.version
    cdef Py_ssize_t n, i
    cdef uint32_t count, tag, size, t
    cdef const uint8_t* section_end
    cdef const uint8_t* saved_end
    cdef BatchIndexAndErrorMessage item
    cdef list errors
    read_i32(c, &r.index, F_INDEX)
    read_i16(c, &r.error_code, F_ERROR_CODE)
    read_i64(c, &r.base_offset, F_BASE_OFFSET)
    read_i64(c, &r.log_append_time_ms, F_LOG_APPEND_TIME)
    if version >= LOG_START_OFFSET_FROM:
        read_i64(c, &r.log_start_offset, F_LOG_START_OFFSET)
    else:
        r.log_start_offset = -1
    errors = []
    if version >= RECORD_ERRORS_FROM:
        n = read_count(c, flexible, 4 + (1 if flexible else 2) + (1 if flexible else 0),
                       F_RECORD_ERRORS)
        for i in range(n):
            c.item = i
            item = BatchIndexAndErrorMessage.__new__(BatchIndexAndErrorMessage)
            read_i32(c, &item.batch_index, F_BATCH_INDEX)
            item.batch_index_error_message = read_string(c, flexible, True, F_BATCH_MESSAGE)
            if flexible:
                skip_tags(c, F_RECORD_ERROR_TAGS)
            errors.append(item)
        r.error_message = read_string(c, flexible, True, F_ERROR_MESSAGE)
    else:
        r.error_message = None
    r.record_errors = errors
    r.current_leader = NO_LEADER
    if flexible:
        if c.p < c.end and c.p[0] == 0:
            c.p += 1
        else:
            read_tag_header(c, &count, F_PARTITION_TAGS)
            for t in range(count):
                read_tag(c, &tag, &size, F_PARTITION_TAGS)
                section_end = c.p + size
                if tag == 0 and version >= LEADER_HINTS_FROM:
                    # Decoded within its own size: it cannot read past it.
                    saved_end = c.end
                    c.end = section_end
                    r.current_leader = read_leader(c)
                    c.end = saved_end
                c.p = section_end
    return r


cdef object decode_body(Cursor* c):
    cdef int version = c.version
    cdef bint flexible = version >= FLEXIBLE_FROM
    cdef bint topic_ids = version >= TOPIC_IDS_FROM
    cdef ProduceResponse response = ProduceResponse.__new__(ProduceResponse)
    cdef TopicProduceResponse topic
    cdef Py_ssize_t topic_count, partition_count, i, j, partition_min
    cdef uint32_t count, tag, size, t
    cdef const uint8_t* section_end
    cdef const uint8_t* saved_end
    cdef list topics = [], partitions
    if flexible:
        topic_count = read_count(c, True, 18 if topic_ids else 3, F_RESPONSES)
    else:
        topic_count = read_count(c, False, 6, F_RESPONSES)
    # Smallest partition response: index, error, base offset, append time,
    # log start offset (v5+), record errors + error message (v8+), tags (v9+).
    partition_min = 22
    if version >= LOG_START_OFFSET_FROM:
        partition_min += 8
    if version >= RECORD_ERRORS_FROM:
        partition_min += 2 if flexible else 6
    if flexible:
        partition_min += 1
    for i in range(topic_count):
        c.topic = i
        topic = TopicProduceResponse.__new__(TopicProduceResponse)
        if topic_ids:
            need(c, 16, F_TOPIC_ID)
            topic.name = ""
            topic.topic_id = topic_uuid(PyBytes_FromStringAndSize(<const char*>c.p, 16))
            c.p += 16
        else:
            topic.name = read_string(c, flexible, False, F_NAME)
            topic.topic_id = _ZERO_UUID
        partition_count = read_count(c, flexible, partition_min, F_PARTITION_RESPONSES)
        partitions = []
        for j in range(partition_count):
            c.partition = j
            partitions.append(read_partition(c, flexible))
        topic.partition_responses = partitions
        if flexible:
            skip_tags(c, F_TOPIC_TAGS)
        topics.append(topic)
    response.responses = topics
    read_i32(c, &response.throttle_time_ms, F_THROTTLE)
    response.node_endpoints = []
    if flexible:
        if c.p < c.end and c.p[0] == 0:
            c.p += 1
        else:
            read_tag_header(c, &count, F_TOP_TAGS)
            for t in range(count):
                read_tag(c, &tag, &size, F_TOP_TAGS)
                section_end = c.p + size
                if tag == 0 and version >= LEADER_HINTS_FROM:
                    saved_end = c.end
                    c.end = section_end
                    response.node_endpoints = read_node_endpoints(c)
                    c.end = saved_end
                c.p = section_end
    if c.p != c.end:
        fail(c, F_TRAILING, f"{kprod_span(c.p, c.end)} unexpected trailing bytes")
    return response


cdef int check_version(int version) except -1:
    if version < MIN_VERSION or version > MAX_VERSION:
        raise ValueError(f"ProduceResponse has no version {version} (valid: "
                         f"{MIN_VERSION}-{MAX_VERSION})")
    return 0


def decode_produce_response(int version, data, Py_ssize_t offset=0):
    """Decode a ProduceResponse body: ``data[offset:]`` after the response header.

    The body must end exactly at the end of ``data``. Raises ProtocolError
    naming the field on truncated or malformed input.
    """
    check_version(version)
    cdef Py_buffer view
    cdef Cursor c
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if offset < 0 or offset > view.len:
            raise ValueError(f"offset {offset} outside the {view.len} bytes of data")
        c.start = <const uint8_t*>view.buf
        c.p = c.start + offset
        c.end = c.start + view.len
        c.version = version
        c.topic = c.partition = c.item = -1
        return decode_body(&c)
    finally:
        PyBuffer_Release(&view)


def decode_produce_frame(int version, frame, expected_correlation_id=None):
    """``(correlation_id, ProduceResponse)`` from a response frame without its
    size prefix (as the connection hands frames to ``decode_response``):
    response header v0 (v3-v8) or v1 with tagged fields (v9+), then the body.

    Raises ProtocolError on malformed input, trailing bytes, or a correlation
    id other than ``expected_correlation_id`` (when given).
    """
    check_version(version)
    cdef Py_buffer view
    cdef Cursor c
    cdef int32_t correlation_id
    PyObject_GetBuffer(frame, &view, PyBUF_SIMPLE)
    try:
        c.start = c.p = <const uint8_t*>view.buf
        c.end = c.start + view.len
        c.version = version
        c.topic = c.partition = c.item = -1
        read_i32(&c, &correlation_id, F_CORRELATION_ID)
        if version >= FLEXIBLE_FROM:
            skip_tags(&c, F_HEADER_TAGS)
        if expected_correlation_id is not None and correlation_id != expected_correlation_id:
            raise ProtocolError(f"ProduceResponse v{version}: correlation id {correlation_id} "
                                f"does not match the expected {expected_correlation_id}")
        return correlation_id, decode_body(&c)
    finally:
        PyBuffer_Release(&view)
