"""Native Produce codec (kprod._native.produce_request / produce_response) against the
Python protocol codec (kprod._internals.protocol) as the reference: byte-identical
requests, field-by-field identical responses, robustness on malformed input, and one
round trip through a real broker read back with confluent-kafka."""
from __future__ import annotations

import os
import socket
import struct
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._internals import protocol as proto
from kprod._internals.protocol import pick_version
from kprod._internals.protocol.generated import MODULES
from kprod._native import produce_request as encoder
from kprod._native import produce_response as decoder
from kprod._native import produce_response_types as response_types
from kprod._native.bufferpool import standalone_buffer
from kprod._native.batch_builder import RecordBatchBuilder
from kprod.errors import ProtocolError
from tests.producer.readback import read_all


# The Python codec is the reference; this module writes its bodies as plain dicts, so
# these adapters turn them into the generated classes and back.
def _module(api):
    return MODULES[api if isinstance(api, int) else proto.BY_NAME[api].key]


def encode_request(api, version, correlation_id, client_id, body):
    typed = _module(api).REQUEST_CLASS.from_dict(body)
    return proto.encode_request(api, version, correlation_id, client_id, typed)


def encode_response(api, version, correlation_id, body):
    typed = _module(api).RESPONSE_CLASS.from_dict(body)
    return proto.encode_response(api, version, correlation_id, typed)


def decode_response(api, version, frame, **kwargs):
    correlation_id, body = proto.decode_response(api, version, frame, **kwargs)
    return correlation_id, body.to_dict()


VERSIONS = range(3, 14)
FUZZ = settings(max_examples=int(os.environ.get("KPROD_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def batch(n_bytes: int, seed: int = 0) -> memoryview:
    """Stand-in RecordBatch bytes (the codec never looks inside)."""
    return memoryview(bytes((seed + i) & 0xFF for i in range(n_bytes)))


# ------------------------------------------------------------------ requests

ID_A, ID_B = uuid.UUID(int=0x0123456789ABCDEF0011223344556677), uuid.uuid4()
BIG = batch(16 * 1024)

# (client_id, transactional_id, acks, timeout_ms, [(name, topic_id, [(index, records)])])
REQUESTS = {
    "typical": ("kprod", None, -1, 30000,
                [("events", ID_A, [(p, batch(16 * 1024, p)) for p in range(6)])]),
    "transactional": ("app-1", "txn-ü-1", 1, 5000, [("t", ID_A, [(0, BIG)])]),
    "acks0_no_client": (None, None, 0, 0, [("t", ID_A, [(3, b"abc")])]),
    "empty_topics": ("kprod", "tx", -1, 1500, []),
    "topic_without_partitions": ("kprod", None, -1, 1500, [("t", ID_A, [])]),
    "many_partitions": ("kprod", None, -1, 30000,
                        [("wide", ID_B, [(p, batch(50 + p, p)) for p in range(300)])]),
    "multiple_topics": ("c" * 300, "x" * 200, -1, 2 ** 31 - 1,
                        [("a" * 249, ID_A, [(0, batch(10)), (7, batch(200))]),
                         ("b", ID_B, [(1, batch(127)), (2, batch(128))]),
                         ("cé", uuid.UUID(int=1),
                          [(2 ** 31 - 1, batch(16383)), (0, batch(16384))])]),
    "null_and_empty_records": ("kprod", None, -1, 1,
                               [("t", ID_A, [(0, None), (1, b""), (2, b"x")])]),
    "several_batches_per_partition": ("kprod", None, -1, 1,
                                      [("t", ID_A, [(0, [batch(30), b"", bytearray(b"yz")]),
                                                    (1, [])])]),
}


def python_request(version, correlation_id, client_id, transactional_id, acks, timeout_ms, topics):
    body = {"transactional_id": transactional_id, "acks": acks, "timeout_ms": timeout_ms,
            "topic_data": [{"name": name, "topic_id": topic_id,
                            "partition_data": [{"index": i, "records": r} for i, r in parts]}
                           for name, topic_id, parts in topics]}
    encoded = encode_request(0, version, correlation_id, client_id, body)
    return b"".join(bytes(c) for c in encoded.chunks), encoded.size


def native_topics(version, topics, id_as_bytes=False):
    if version < 13:
        return [(name, parts) for name, _, parts in topics]
    return [(topic_id.bytes if id_as_bytes else topic_id, parts) for _, topic_id, parts in topics]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("shape", sorted(REQUESTS))
def test_request_bytes_identical_to_python_encoder(version, shape):
    client_id, transactional_id, acks, timeout_ms, topics = REQUESTS[shape]
    expected, expected_size = python_request(version, 12345, client_id, transactional_id, acks,
                                             timeout_ms, topics)
    chunks, size = encoder.encode_produce_request(version, 12345, client_id, transactional_id,
                                                 acks, timeout_ms, native_topics(version, topics))
    assert b"".join(chunks) == expected
    assert size == expected_size == len(expected) - 4
    assert struct.unpack_from(">ihhi", expected) == (size, 0, version, 12345)
    # The batches are the caller's objects (not copies), framing sits between them.
    batches = [r for _, _, parts in topics for _, records in parts
               for r in (records if isinstance(records, list) else [records])
               if r is not None and len(r)]
    assert all(type(c) is bytes or any(c is b for b in batches) for c in chunks)
    assert [id(c) for c in chunks if any(c is b for b in batches)] == [id(b) for b in batches]
    assert len(chunks) <= 2 * len(batches) + 1
    assert all(len(c) for c in chunks)


def test_v13_topic_id_as_bytes_or_uuid():
    _, _, acks, timeout_ms, topics = REQUESTS["multiple_topics"]
    by_uuid, _ = encoder.encode_produce_request(13, 1, "c", None, acks, timeout_ms,
                                               native_topics(13, topics))
    by_bytes, _ = encoder.encode_produce_request(13, 1, "c", None, acks, timeout_ms,
                                                native_topics(13, topics, id_as_bytes=True))
    assert b"".join(by_uuid) == b"".join(by_bytes) == python_request(
        13, 1, "c", None, acks, timeout_ms, topics)[0]


def test_request_header_versions():
    # v8: header v1 (no tag byte after client_id); v9: header v2 (one 0 byte).
    for version, tail in ((8, b"\xff\xff" b"\x00\x01" b"\x00\x00\x00\x02" b"\x00\x00\x00\x00"),
                          (9, b"\x00" b"\x00" b"\x00\x01" b"\x00\x00\x00\x02" b"\x01" b"\x00")):
        data = b"".join(encoder.encode_produce_request(version, 7, "ab", None, 1, 2, [])[0])
        assert data[4:16] == struct.pack(">hhih", 0, version, 7, 2) + b"ab"
        assert data[16:] == tail


@given(st.integers(3, 13), st.integers(0, 2 ** 31 - 1),
       st.one_of(st.none(), st.text(max_size=40)), st.one_of(st.none(), st.text(max_size=200)),
       st.sampled_from([-1, 0, 1]), st.integers(-2 ** 31, 2 ** 31 - 1),
       st.lists(st.tuples(st.text(min_size=1, max_size=30), st.uuids(),
                          st.lists(st.tuples(st.integers(-2 ** 31, 2 ** 31 - 1),
                                             st.one_of(st.none(), st.binary(max_size=300))),
                                   max_size=5)), max_size=4))
@FUZZ
def test_request_matches_python_encoder_generated(version, correlation_id, client_id,
                                                  transactional_id, acks, timeout_ms, topics):
    expected, expected_size = python_request(version, correlation_id, client_id, transactional_id,
                                             acks, timeout_ms, topics)
    chunks, size = encoder.encode_produce_request(version, correlation_id, client_id,
                                                 transactional_id, acks, timeout_ms,
                                                 native_topics(version, topics))
    assert (b"".join(chunks), size) == (expected, expected_size)


@pytest.mark.parametrize("args,error,words", [
    ((2, 1, "c", None, -1, 1, []), ValueError, "version 2"),
    ((14, 1, "c", None, -1, 1, []), ValueError, "version 14"),
    ((9, 1, "c", None, 40000, 1, []), ValueError, "acks"),
    ((9, 2 ** 31, "c", None, -1, 1, []), ValueError, "correlation_id"),
    ((9, 1, "c", None, -1, 2 ** 40, []), ValueError, "timeout_ms"),
    ((9, 1, 5, None, -1, 1, []), TypeError, "client_id"),
    ((9, 1, "c" * 40000, None, -1, 1, []), ValueError, "client_id"),
    ((9, 1, "c", b"tx", -1, 1, []), TypeError, "transactional_id"),
    ((9, 1, "c", None, -1, 1, [(None, [])]), TypeError, "name"),
    ((9, 1, "c", None, -1, 1, [("t", [(2 ** 31, b"x")])]), ValueError, "index"),
    ((9, 1, "c", None, -1, 1, [("t", [(0, 17)])]), TypeError, "records"),
    ((9, 1, "c", None, -1, 1, [("t", [(0, memoryview(b"abcd")[::2])])]), TypeError, "records"),
    ((13, 1, "c", None, -1, 1, [("t", [(0, b"x")])]), TypeError, "topic_id"),
    ((13, 1, "c", None, -1, 1, [(b"short", [(0, b"x")])]), ValueError, "topic_id"),
])
def test_request_bad_input_is_a_typed_error(args, error, words):
    with pytest.raises(error, match=words):
        encoder.encode_produce_request(*args)


# ----------------------------------------------------------------- responses

def partition(index, version, error_code=0, base_offset=0, record_errors=(), error_message=None,
              leader=None, log_append_time_ms=-1, log_start_offset=0):
    p = {"index": index, "error_code": error_code, "base_offset": base_offset,
         "log_append_time_ms": log_append_time_ms, "log_start_offset": log_start_offset}
    if version >= 8:
        p["record_errors"] = [{"batch_index": i, "batch_index_error_message": m}
                              for i, m in record_errors]
        p["error_message"] = error_message
    if version >= 10 and leader is not None:
        p["current_leader"] = {"leader_id": leader[0], "leader_epoch": leader[1]}
    return p


def response_body(version):
    body = {"responses": [
        {"name": "events", "topic_id": ID_A, "partition_responses": [
            partition(p, version, base_offset=1000 * p, log_start_offset=p) for p in range(6)]},
        {"name": "ünïcode" * 10, "topic_id": ID_B, "partition_responses": [
            partition(0, version, error_code=6, base_offset=-1, log_start_offset=-1,
                      error_message="not the leader" * 20, leader=(3, 17)),
            partition(1, version, error_code=87, base_offset=-1, log_start_offset=-1,
                      record_errors=[(0, "bad key"), (5, None), (2 ** 31 - 1, "é" * 300)],
                      error_message=None, log_append_time_ms=1_700_000_000_000),
            partition(2 ** 31 - 1, version, base_offset=2 ** 63 - 1, log_start_offset=-2 ** 63,
                      log_append_time_ms=-2 ** 63),
        ]},
        {"name": "empty", "topic_id": uuid.UUID(int=0), "partition_responses": []},
    ], "throttle_time_ms": 250}
    if version >= 10:
        body["node_endpoints"] = [{"node_id": 3, "host": "127.0.0.1", "port": 9092, "rack": "r1"},
                                  {"node_id": 4, "host": "b" * 200, "port": 65535, "rack": None}]
    return body


def as_dict(response: response_types.ProduceResponse) -> dict:
    """The native object in the Python decoder's dict shape, field by field."""
    return {
        "responses": [{
            "name": t.name, "topic_id": t.topic_id,
            "partition_responses": [{
                "index": p.index, "error_code": p.error_code, "base_offset": p.base_offset,
                "log_append_time_ms": p.log_append_time_ms, "log_start_offset": p.log_start_offset,
                "record_errors": [{"batch_index": e.batch_index,
                                   "batch_index_error_message": e.batch_index_error_message}
                                  for e in p.record_errors],
                "error_message": p.error_message,
                "current_leader": {"leader_id": p.current_leader.leader_id,
                                   "leader_epoch": p.current_leader.leader_epoch},
            } for p in t.partition_responses],
        } for t in response.responses],
        "throttle_time_ms": response.throttle_time_ms,
        "node_endpoints": [{"node_id": n.node_id, "host": n.host, "port": n.port, "rack": n.rack}
                           for n in response.node_endpoints],
    }


def header_size(version):
    return 5 if version >= 9 else 4


@pytest.mark.parametrize("version", VERSIONS)
def test_response_agrees_with_python_decoder(version):
    frame = encode_response(0, version, 99, response_body(version))
    correlation_id, expected = decode_response(0, version, frame, expected_correlation_id=99)
    got_id, got = decoder.decode_produce_frame(version, frame, expected_correlation_id=99)
    assert got_id == correlation_id == 99
    assert as_dict(got) == expected
    assert as_dict(decoder.decode_produce_response(version, frame,
                                                   header_size(version))) == expected
    body = frame[header_size(version):]
    assert as_dict(decoder.decode_produce_response(version, body)) == expected
    assert as_dict(decoder.decode_produce_response(version, memoryview(bytearray(frame)),
                                                  header_size(version))) == expected


def test_struct_fields_are_the_schema_fields():
    _, body = decode_response(0, 13, encode_response(0, 13, 1, response_body(13)))
    topic = body["responses"][1]
    part = topic["partition_responses"][1]
    assert response_types.ProduceResponse.FIELDS == tuple(body)
    assert response_types.TopicProduceResponse.FIELDS == tuple(topic)
    assert response_types.PartitionProduceResponse.FIELDS == tuple(part)
    assert response_types.BatchIndexAndErrorMessage.FIELDS == tuple(part["record_errors"][0])
    assert response_types.LeaderIdAndEpoch.FIELDS == tuple(part["current_leader"])
    assert response_types.NodeEndpoint.FIELDS == tuple(body["node_endpoints"][0])


def test_response_fields_by_name():
    body = response_body(13)
    frame = encode_response(0, 13, 1, body)
    _, r = decoder.decode_produce_frame(13, frame)
    assert r.throttle_time_ms == 250
    topic = r.responses[1]
    assert (topic.name, topic.topic_id) == ("", ID_B)     # v13: ids, not names
    p0, p1, p2 = topic.partition_responses
    assert (p0.index, p0.error_code, p0.error_message) == (0, 6, "not the leader" * 20)
    assert p0.current_leader == response_types.LeaderIdAndEpoch(3, 17)
    assert (p1.current_leader.leader_id, p1.current_leader.leader_epoch) == (-1, -1)
    assert [(e.batch_index, e.batch_index_error_message) for e in p1.record_errors] == \
        [(0, "bad key"), (5, None), (2 ** 31 - 1, "é" * 300)]
    assert p1.log_append_time_ms == 1_700_000_000_000
    assert (p2.index, p2.base_offset, p2.log_start_offset) == (2 ** 31 - 1, 2 ** 63 - 1, -2 ** 63)
    assert r.node_endpoints == [response_types.NodeEndpoint(3, "127.0.0.1", 9092, "r1"),
                                response_types.NodeEndpoint(4, "b" * 200, 65535, None)]
    _, v12 = decoder.decode_produce_frame(12, encode_response(0, 12, 1, response_body(12)))
    assert (v12.responses[0].name, v12.responses[0].topic_id) == ("events", uuid.UUID(int=0))
    with pytest.raises(AttributeError):
        p0.error_code = 0                     # decoded responses are read-only
    assert "NodeEndpoint(node_id=3" in repr(r)


def test_old_versions_give_defaults():
    _, r = decoder.decode_produce_frame(3, encode_response(0, 3, 1, response_body(3)))
    p = r.responses[1].partition_responses[1]
    assert (p.log_start_offset, p.record_errors, p.error_message) == (-1, [], None)
    assert p.current_leader == response_types.LeaderIdAndEpoch(-1, -1) and r.node_endpoints == []


def test_v9_skips_the_leader_hint_tags_as_unknown():
    # v9 and v10 bodies differ only in tags; a v9 reader skips tag 0 (KIP-951 is v10+).
    frame = encode_response(0, 10, 5, response_body(10))
    _, expected = decode_response(0, 9, frame)
    _, got = decoder.decode_produce_frame(9, frame)
    assert as_dict(got) == expected
    assert got.node_endpoints == [] and got.responses[1].partition_responses[0].current_leader \
        == response_types.LeaderIdAndEpoch(-1, -1)


def uv(n):
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def cstr(s):
    return uv(len(s.encode()) + 1) + s.encode() if s is not None else b"\x00"


def test_unknown_tags_are_skipped_and_known_tags_read_within_their_size():
    leader = struct.pack(">ii", 7, 9) + b"\x01" + uv(3) + uv(2) + b"zz"     # with its own tag
    partition_tags = (uv(3) + uv(1) + uv(4) + b"????" + uv(0) + uv(len(leader)) + leader
                      + uv(200) + uv(0))
    endpoints = (uv(2) + struct.pack(">i", 8) + cstr("h") + struct.pack(">i", 1) + cstr(None)
                 + b"\x00")
    top_tags = uv(2) + uv(0) + uv(len(endpoints) + 2) + endpoints + b"!!" + uv(5) + uv(1) + b"?"
    body = (uv(2) + cstr("t") + uv(2) + struct.pack(">ihqqq", 4, 0, 10, -1, 0) + uv(1) + cstr(None)
            + partition_tags + b"\x00" + struct.pack(">i", 0) + top_tags)
    frame = struct.pack(">i", 1) + uv(1) + uv(9) + uv(2) + b"hh" + body    # unknown header tag
    _, expected = decode_response(0, 10, frame)
    _, got = decoder.decode_produce_frame(10, frame)
    assert as_dict(got) == expected
    assert (got.responses[0].partition_responses[0].current_leader
            == response_types.LeaderIdAndEpoch(7, 9))
    assert got.node_endpoints == [response_types.NodeEndpoint(8, "h", 1, None)]


# --- generated responses

names = st.text(max_size=20)
messages = st.one_of(st.none(), st.text(max_size=30))
int32s, int64s = st.integers(-2 ** 31, 2 ** 31 - 1), st.integers(-2 ** 63, 2 ** 63 - 1)
partitions = st.fixed_dictionaries({
    "index": int32s, "error_code": st.integers(-2 ** 15, 2 ** 15 - 1), "base_offset": int64s,
    "log_append_time_ms": int64s, "log_start_offset": int64s,
    "record_errors": st.lists(st.fixed_dictionaries(
        {"batch_index": int32s, "batch_index_error_message": messages}), max_size=3),
    "error_message": messages,
    "current_leader": st.fixed_dictionaries({"leader_id": int32s, "leader_epoch": int32s}),
})
bodies = st.fixed_dictionaries({
    "responses": st.lists(st.fixed_dictionaries({
        "name": names, "topic_id": st.uuids(),
        "partition_responses": st.lists(partitions, max_size=4)}), max_size=3),
    "throttle_time_ms": int32s,
    "node_endpoints": st.lists(st.fixed_dictionaries({
        "node_id": int32s, "host": names, "port": int32s, "rack": messages}), max_size=3),
})


def restrict(body, version):
    """``body`` as ``version`` can carry it (fields it lacks take their defaults)."""
    out = {"responses": [], "throttle_time_ms": body["throttle_time_ms"],
           "node_endpoints": body["node_endpoints"] if version >= 10 else []}
    for t in body["responses"]:
        parts = []
        for p in t["partition_responses"]:
            p = dict(p)
            if version < 5:
                p["log_start_offset"] = -1
            if version < 8:
                p["record_errors"], p["error_message"] = [], None
            if version < 10:
                p["current_leader"] = {"leader_id": -1, "leader_epoch": -1}
            parts.append(p)
        out["responses"].append({"name": t["name"] if version < 13 else "",
                                 "topic_id": t["topic_id"] if version >= 13 else uuid.UUID(int=0),
                                 "partition_responses": parts})
    return out


@given(st.integers(3, 13), st.integers(-2 ** 31, 2 ** 31 - 1), bodies)
@FUZZ
def test_generated_responses_round_trip(version, correlation_id, body):
    frame = encode_response(0, version, correlation_id, body)
    got_id, got = decoder.decode_produce_frame(version, frame)
    assert got_id == correlation_id
    assert as_dict(got) == restrict(body, version) == decode_response(0, version, frame)[1]


# --- malformed input

SAMPLES = {v: encode_response(0, v, 3, response_body(v)) for v in VERSIONS}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_truncation_is_a_protocol_error(version):
    frame = SAMPLES[version]
    for cut in range(len(frame)):
        with pytest.raises(ProtocolError):
            decoder.decode_produce_frame(version, frame[:cut])
    body = frame[header_size(version):]
    for cut in range(len(body)):
        with pytest.raises(ProtocolError):
            decoder.decode_produce_response(version, body[:cut])


def test_errors_name_the_field():
    frame = encode_response(0, 9, 3, {"responses": [{"name": "t", "partition_responses": [
        partition(0, 9, error_message="m" * 100), partition(1, 9)]}]})
    # Cut inside base_offset of the second partition: header, topic count, name,
    # partition count, the first partition (33 bytes + its message), index, error code.
    cut = 5 + 1 + 2 + 1 + 133 + 4 + 2 + 3
    with pytest.raises(ProtocolError, match=r"^ProduceResponse v9: responses\[0\]"
                       r"\.partition_responses\[1\]\.base_offset: truncated"):
        decoder.decode_produce_frame(9, frame[:cut])
    with pytest.raises(ProtocolError, match=r"responses: array of 1000000 elements cannot fit"):
        decoder.decode_produce_response(3, struct.pack(">i", 1000000) + b"\x00" * 100)
    with pytest.raises(ProtocolError, match=r"responses: invalid array length -1"):
        decoder.decode_produce_response(3, struct.pack(">i", -1) + b"\x00" * 100)
    with pytest.raises(ProtocolError, match=r"responses: invalid array length -1"):
        decoder.decode_produce_response(9, b"\x00" + b"\x00" * 100)
    with pytest.raises(ProtocolError, match=r"responses: varint longer than 5 bytes"):
        decoder.decode_produce_response(9, b"\xff" * 6)
    with pytest.raises(ProtocolError, match=r"responses: unsigned varint exceeds 32 bits"):
        decoder.decode_produce_response(9, b"\xff\xff\xff\xff\x7f")
    with pytest.raises(ProtocolError, match=r"responses\[0\]\.name: invalid UTF-8"):
        decoder.decode_produce_response(3, struct.pack(">ih", 1, 2) + b"\xff\xfe" + b"\x00" * 40)
    with pytest.raises(ProtocolError, match=r"responses\[0\]\.name: invalid string length -2"):
        decoder.decode_produce_response(3, struct.pack(">ih", 1, -2) + b"\x00" * 40)
    with pytest.raises(ProtocolError, match=r"<end>: 1 unexpected trailing bytes"):
        decoder.decode_produce_frame(9, SAMPLES[9] + b"\x00")
    with pytest.raises(ProtocolError, match=r"correlation id 3 does not match the expected 4"):
        decoder.decode_produce_frame(9, SAMPLES[9], expected_correlation_id=4)
    with pytest.raises(ValueError, match="version 14"):
        decoder.decode_produce_response(14, b"")
    with pytest.raises(ValueError, match="offset"):
        decoder.decode_produce_response(9, b"", 1)


@given(st.data())
@FUZZ
def test_mutated_responses_agree_with_python_or_raise_protocol_error(data):
    version = data.draw(st.sampled_from(VERSIONS))
    frame = bytearray(SAMPLES[version])
    for _ in range(data.draw(st.integers(1, 4))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    frame = bytes(frame[:data.draw(st.integers(0, len(frame)))])
    check_against_python(version, frame)


@given(st.sampled_from(VERSIONS), st.binary(max_size=200))
@FUZZ
def test_random_bytes_agree_with_python_or_raise_protocol_error(version, frame):
    check_against_python(version, frame)


def check_against_python(version, frame):
    try:
        expected = decode_response(0, version, frame)
    except ProtocolError:
        expected = None
    try:
        correlation_id, got = decoder.decode_produce_frame(version, frame)
    except ProtocolError:
        assert expected is None, "native refused what the Python decoder accepts"
        return
    assert expected is not None, "native accepted what the Python decoder refuses"
    assert (correlation_id, as_dict(got)) == expected


# --------------------------------------------------------------- real broker

def exchange(sock: socket.socket, chunks) -> bytes:
    """Send one framed request with gathered writes; return the response frame."""
    views = [memoryview(c).cast("B") for c in chunks]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= views[0].nbytes:
            sent -= views[0].nbytes
            views.pop(0)
        if sent:
            views[0] = views[0][sent:]
    (size,) = struct.unpack(">i", recv_exactly(sock, 4))
    return recv_exactly(sock, size)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        part = sock.recv(n - len(out))
        assert part, "broker closed the connection"
        out += part
    return bytes(out)


def python_exchange(sock, api, version, correlation_id, body):
    chunks, _ = encode_request(api, version, correlation_id, "kprod-test", body)
    return decode_response(api, version, exchange(sock, chunks),
                           expected_correlation_id=correlation_id)[1]


def test_native_produce_to_a_real_broker(kafka, make_topic):
    topic = make_topic(partitions=8)
    host, port = kafka.bootstrap_servers.split(",")[0].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        versions = python_exchange(sock, "ApiVersions", 3, 1, {
            "client_software_name": "kprod-test", "client_software_version": "0"})
        broker = {k["api_key"]: (k["min_version"], k["max_version"]) for k in versions["api_keys"]}
        newest = pick_version("Produce", broker)
        assert newest >= 9
        metadata = python_exchange(sock, "Metadata", 12, 2, {"topics": [{"name": topic}]})
        (described,) = metadata["topics"]
        topic_id = described["topic_id"]
        assert described["name"] == topic and topic_id != uuid.UUID(int=0)

        # One request per version (oldest, last non-flexible, first flexible,
        # first with leader hints, newest), each to its own partition; the
        # newest writes two partitions in one request.
        # (Kafka 4 still advertises Produce v0-v2, KAFKA-18659, but refuses them.)
        plan = sorted({max(broker[0][0], 3), 8, 9, 10, newest})
        expected = {}
        correlation_id = 10
        for n, version in enumerate(plan):
            targets = [n] if version != newest else [n, n + 1]
            requests = []
            for p in targets:
                builder = RecordBatchBuilder(standalone_buffer(1 << 16))
                values = [b"v%d-p%d-%d-" % (version, p, i) + b"x" * (i * 37) for i in range(20)]
                for i, value in enumerate(values):
                    builder.append(int(time.time() * 1000), b"k%d" % i, value,
                                   [("h", b"%d" % version)])
                requests.append((p, builder.close()))
                expected[p] = values
            name = topic_id if version >= 13 else topic
            correlation_id += 1
            chunks, size = encoder.encode_produce_request(version, correlation_id, "kprod-test",
                                                         None, -1, 30000, [(name, requests)])
            assert any(c is requests[0][1] for c in chunks)    # the batch itself, not a copy
            frame = exchange(sock, chunks)
            got_id, response = decoder.decode_produce_frame(version, frame,
                                                           expected_correlation_id=correlation_id)
            assert got_id == correlation_id
            assert response == decoder.decode_produce_frame(version, frame)[1]
            _, python_view = decode_response(0, version, frame)
            assert as_dict(response) == python_view
            (answer,) = response.responses
            assert (answer.name, answer.topic_id) == ((topic, uuid.UUID(int=0)) if version < 13
                                                      else ("", topic_id))
            assert sorted(p.index for p in answer.partition_responses) == targets
            for p in answer.partition_responses:
                assert (p.error_code, p.base_offset, p.record_errors, p.error_message) == \
                    (0, 0, [], None), (version, p)
                assert p.log_append_time_ms == -1                 # CreateTime topic
    records = read_all(kafka.bootstrap_servers, topic, expected=sum(map(len, expected.values())))
    by_partition = {}
    for m in records:
        by_partition.setdefault(m.partition, []).append(m)
    assert sorted(by_partition) == sorted(expected)
    for p, values in expected.items():
        got = by_partition[p]
        assert [m.value for m in got] == values
        assert [m.key for m in got] == [b"k%d" % i for i in range(len(values))]
        assert [m.offset for m in got] == list(range(len(values)))
        assert all(m.headers and m.headers[0][0] == "h" for m in got)
