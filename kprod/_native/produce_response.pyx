# cython: language_level=3
"""Native ProduceResponse decoder, versions 3 to 13 (the requests are encoded by
produce_request.pyx).

Same wire layout as the declarative schema in
``kprod/_internals/protocol/messages/produce.py`` (Kafka's ProduceResponse.json):

- v3-v8: response header v0, int16-length strings, int32 array counts.
- v9+ (KIP-482, flexible): response header v1, compact strings / arrays and a
  tagged-field section after every struct.
- v10+ (KIP-951): tagged CurrentLeader (tag 0 of a partition response) and
  NodeEndpoints (tag 0 of the response) carry leader hints.
- v13 (KIP-516): topics are named by their 16-byte id instead of their name.

The objects it returns are produce_response_types.pyx's.

A pointer + end cursor; every read is bounds-checked and malformed input raises
:class:`kprod.errors.ProtocolError` naming the field with its indices
(``responses[0].partition_responses[1].base_offset``). Array counts are checked
against the bytes left (each element has a minimum size) before anything is
allocated.

GIL: held throughout (every step creates result objects; the messages are small).
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport (
    int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t,
)

from kprod._native.byteorder cimport (
    kprod_as_i16, kprod_as_i32, kprod_as_i64, kprod_load_be16, kprod_load_be32,
    kprod_load_be64, kprod_span,
)
from kprod._native.produce_response_types cimport (
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse,
    ProduceResponse, TopicProduceResponse,
)
from kprod._native.produce_versions cimport *

import uuid as _uuid

from kprod._native.produce_response_types import NO_LEADER as _NO_LEADER
from kprod._native.produce_response_types import ZERO_TOPIC_ID as _ZERO_TOPIC_ID
from kprod.errors import ProtocolError

__all__ = ["decode_produce_response", "decode_produce_frame", "MIN_VERSION", "MAX_VERSION"]

MIN_VERSION = PRODUCE_MIN_VERSION
MAX_VERSION = PRODUCE_MAX_VERSION
cdef enum:
    MAX_STRING = 0x7FFF

cdef object _UUID = _uuid.UUID
cdef LeaderIdAndEpoch NO_LEADER = _NO_LEADER          # shared: the objects are read-only
cdef object ZERO_TOPIC_ID = _ZERO_TOPIC_ID


# Topic ids repeat in every response to a producer; building a uuid.UUID
# costs more than the rest of a topic's framing, so the ones seen are kept
# (bounded: cleared when full).
cdef enum:
    ID_CACHE_SIZE = 4096
cdef dict _uuid_by_bytes = {}


cdef object topic_uuid(bytes raw):
    cdef object found = _uuid_by_bytes.get(raw)
    if found is None:
        found = _UUID(bytes=raw)
        if len(_uuid_by_bytes) >= ID_CACHE_SIZE:
            _uuid_by_bytes.clear()
        _uuid_by_bytes[raw] = found
    return found


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
            topic.topic_id = ZERO_TOPIC_ID
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
    if version < PRODUCE_MIN_VERSION or version > PRODUCE_MAX_VERSION:
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
