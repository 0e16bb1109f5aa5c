"""Golden bytes, primitives, headers, zero-copy records, correlation ids."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kprod._internals.protocol import (decode_request, decode_response, encode_request,
                                       encode_response)
from kprod._internals.protocol import primitives as P
from kprod._internals.protocol import types as T
from kprod._internals.protocol.headers import response_header_version
from kprod._internals.protocol.messages import BY_NAME
from kprod.errors import ProtocolError


def _join(chunks):
    return b"".join(bytes(c) for c in chunks)


# ------------------------------------------------------------------ golden bytes
def test_golden_api_versions_v3_request():
    chunks, size = encode_request("ApiVersions", 3, 1, "kprod", T.ApiVersionsRequest(
        client_software_name="kprod", client_software_version="0.1.0"))
    expected = bytes.fromhex(
        "0000001d"                   # size 29
        "0012" "0003" "00000001"     # api_key 18, version 3, correlation id 1
        "0005" "6b70726f64"          # client_id: int16-length string even in header v2
        "00"                         # header tagged fields: none
        "06" "6b70726f64"            # compact string "kprod" (len+1 = 6)
        "06" "302e312e30"            # compact string "0.1.0"
        "00")                        # body tagged fields: none
    assert _join(chunks) == expected and size == 29


def test_golden_metadata_v0_request():
    chunks, _ = encode_request("Metadata", 0, 0x01020304, None,
                               T.MetadataRequest(topics=[T.MetadataRequestTopic(name="t")]))
    assert _join(chunks) == bytes.fromhex(
        "00000011" "0003" "0000" "01020304" "ffff"   # null client id
        "00000001" "0001" "74")


def test_golden_produce_v10_response_with_tagged_node_endpoints():
    body = T.ProduceResponse(responses=[], throttle_time_ms=0, node_endpoints=[
        T.NodeEndpoint(node_id=1, host="h", port=9092, rack=None)])
    raw = encode_response("Produce", 10, 7, body)
    assert raw == bytes.fromhex(
        "00000007" "00"              # response header v1: correlation id + no tags
        "01"                         # responses: empty compact array
        "00000000"                   # throttle_time_ms
        "01" "00" "0d"               # 1 tagged field: tag 0, 13 bytes
        "02" "00000001" "0268" "00002384" "00" "00")  # [ {1, "h", 9092, null} ]
    assert decode_response("Produce", 10, raw)[1].node_endpoints == body.node_endpoints


def test_golden_produce_response_current_leader_tag():
    leader = T.LeaderIdAndEpoch(leader_id=2, leader_epoch=5)
    part = T.PartitionProduceResponse(index=0, error_code=6, base_offset=-1,
                                      current_leader=leader)
    raw = encode_response("Produce", 10, 1, T.ProduceResponse(responses=[
        T.TopicProduceResponse(name="t", partition_responses=[part])]))
    _, got = decode_response("Produce", 10, raw)
    leader = got.responses[0].partition_responses[0].current_leader
    assert (leader.leader_id, leader.leader_epoch) == (2, 5)
    # 1 tag: tag 0, 9 bytes = two int32 + the struct's own empty tag section
    assert bytes.fromhex("01" "00" "09" "00000002" "00000005" "00") in raw


def test_default_tagged_fields_are_not_written():
    raw = encode_response("Produce", 10, 1, T.ProduceResponse(responses=[], node_endpoints=[]))
    assert raw.endswith(bytes.fromhex("01" "00000000" "00"))


def test_unknown_tagged_fields_are_skipped():
    # AddOffsetsToTxn v3 response has no known tags; add tag 7 (3 bytes) and tag 9 (0 bytes)
    raw = bytes.fromhex("00000001" "00" "00000064" "0000" "02" "07" "03" "aabbcc" "09" "00")
    corr, body = decode_response("AddOffsetsToTxn", 3, raw)
    assert corr == 1 and body == T.AddOffsetsToTxnResponse(throttle_time_ms=100, error_code=0)


# -------------------------------------------------------------------- primitives
def test_compact_and_classic_strings():
    buf = bytearray()
    P.write_compact_string(buf, "abc")
    P.write_compact_nullable_string(buf, None)
    P.write_nullable_string(buf, None)
    P.write_string(buf, "é")
    assert bytes(buf) == bytes.fromhex("04616263" "00" "ffff" "0002c3a9")
    d = memoryview(bytes(buf))
    s, p = P.read_compact_string(d, 0, len(d), "x", False)
    n, p = P.read_compact_string(d, p, len(d), "x", True)
    m, p = P.read_string(d, p, len(d), "x", True)
    e, p = P.read_string(d, p, len(d), "x", False)
    assert (s, n, m, e, p) == ("abc", None, None, "é", len(d))
    with pytest.raises(ProtocolError, match="x"):
        P.read_compact_string(d, 4, len(d), "x", False)  # null where not allowed


@pytest.mark.parametrize("n,hexed", [(0, "00"), (1, "01"), (127, "7f"), (128, "8001"),
                                     (300, "ac02"), (0xFFFFFFFF, "ffffffff0f")])
def test_uvarint_golden(n, hexed):
    assert P.uvarint_bytes(n).hex() == hexed
    d = memoryview(bytes.fromhex(hexed))
    assert P.read_uvarint(d, 0, len(d), "v") == (n, len(d))


def test_varint_zigzag_golden():
    assert P.varint_bytes(0) == b"\x00"
    assert P.varint_bytes(-1) == b"\x01"
    assert P.varint_bytes(1) == b"\x02"
    assert P.varint_bytes(-64) == b"\x7f"
    assert P.varlong_bytes(-(1 << 63)) == b"\xff" * 9 + b"\x01"


@given(st.integers(-(1 << 31), (1 << 31) - 1))
def test_varint_round_trip(n):
    b = P.varint_bytes(n)
    assert P.read_varint(memoryview(b), 0, len(b), "v") == (n, len(b))


@given(st.integers(-(1 << 63), (1 << 63) - 1))
def test_varlong_round_trip(n):
    b = P.varlong_bytes(n)
    assert P.read_varlong(memoryview(b), 0, len(b), "v") == (n, len(b))


def test_overlong_varint_is_a_protocol_error():
    d = memoryview(b"\xff" * 6)
    with pytest.raises(ProtocolError, match="longer than 5"):
        P.read_uvarint(d, 0, 6, "v")
    with pytest.raises(ProtocolError, match="truncated"):
        P.read_uvarint(d, 0, 3, "v")


# ------------------------------------------------------------------------ headers
def test_header_versions():
    api_versions = BY_NAME["ApiVersions"]
    assert response_header_version(api_versions.response, 3) == 0  # KIP-511 special case
    assert response_header_version(BY_NAME["Produce"].response, 9) == 1
    assert response_header_version(BY_NAME["Produce"].response, 8) == 0
    chunks, _ = encode_request("ApiVersions", 3, 1, "c", T.ApiVersionsRequest())
    assert _join(chunks)[4 + 8 + 3] == 0  # request header v2: tag byte after client id
    chunks, _ = encode_request("SaslHandshake", 1, 1, "c",
                               T.SaslHandshakeRequest(mechanism="PLAIN"))
    assert _join(chunks)[4 + 8 + 3:] == b"\x00\x05PLAIN"  # header v1: no tag byte


def test_api_versions_unsupported_version_falls_back_to_v0_body():
    v0 = encode_response("ApiVersions", 0, 3, T.ApiVersionsResponse(
        error_code=35, api_keys=[T.ApiVersion(api_key=18, min_version=0, max_version=2)]))
    corr, body = decode_response("ApiVersions", 3, v0)
    assert corr == 3 and body.error_code == 35
    assert body.api_keys == [T.ApiVersion(api_key=18, min_version=0, max_version=2)]


# ---------------------------------------------------------------- zero-copy records
def test_produce_records_are_not_copied():
    batch1 = memoryview(bytearray(b"A" * 100))
    batch2 = memoryview(bytearray(b"B" * 50))
    raw = bytes(range(30))
    body = T.ProduceRequest(transactional_id="tx", acks=-1, timeout_ms=30000, topic_data=[
        T.TopicProduceData(name="t", partition_data=[
            T.PartitionProduceData(index=0, records=batch1),
            T.PartitionProduceData(index=1, records=[batch2, raw]),
            T.PartitionProduceData(index=2, records=None)])])
    for version in (3, 8, 9, 12):
        chunks, size = encode_request("Produce", version, 42, "kprod", body)
        assert any(c is batch1 for c in chunks)
        assert any(c is batch2 for c in chunks)
        assert any(c is raw for c in chunks)
        assert sum(P.nbytes(c) for c in chunks) == size + 4
        header, got = decode_request(_join(chunks)[4:])
        parts = got.topic_data[0].partition_data
        assert bytes(parts[0].records) == bytes(batch1)
        assert bytes(parts[1].records) == bytes(batch2) + raw
        assert parts[2].records is None


def test_produce_v13_topic_ids():
    tid = uuid.uuid4()
    chunks, _ = encode_request("Produce", 13, 1, "c", T.ProduceRequest(
        acks=1, timeout_ms=5, topic_data=[
            T.TopicProduceData(topic_id=tid, partition_data=[T.PartitionProduceData(3, b"xyz")])]))
    _, got = decode_request(_join(chunks)[4:])
    assert got.topic_data[0].topic_id == tid
    assert got.topic_data[0].name == ""  # not on the wire in v13


# ----------------------------------------------------------------- correlation ids
def test_expected_correlation_id():
    raw = encode_response("EndTxn", 3, 17, T.EndTxnResponse(error_code=0))
    assert decode_response("EndTxn", 3, raw, expected_correlation_id=17)[0] == 17
    with pytest.raises(ProtocolError, match="correlation id 17 does not match the expected 18"):
        decode_response("EndTxn", 3, raw, expected_correlation_id=18)


def test_trailing_bytes_are_rejected():
    raw = encode_response("EndTxn", 3, 17, T.EndTxnResponse(error_code=0))
    with pytest.raises(ProtocolError, match="EndTxnResponse v3: 1 unexpected trailing"):
        decode_response("EndTxn", 3, raw + b"\x00")


def test_error_names_the_field():
    raw = encode_response("Metadata", 12, 1, T.MetadataResponse(
        brokers=[T.MetadataResponseBroker(node_id=1, host="h" * 20, port=1)]))
    head = 4 + 1 + 4 + 1 + 4  # header, throttle, array length, node_id
    with pytest.raises(ProtocolError, match=r"MetadataResponse v12: Brokers\[\]\.Host: truncated"):
        decode_response("Metadata", 12, raw[:head + 10])
    with pytest.raises(ProtocolError, match=r"MetadataResponse v12: Brokers\[\]\.Port: truncated"):
        decode_response("Metadata", 12, raw[:head + 21 + 2])


def test_bogus_array_length_does_not_allocate():
    # Metadata v1 response: brokers array claims 2**31-1 entries
    raw = bytes.fromhex("00000001" "7fffffff") + b"\x00" * 16
    with pytest.raises(ProtocolError, match="Brokers: array of 2147483647 elements cannot fit"):
        decode_response("Metadata", 1, raw)
    raw = bytes.fromhex("00000001" "00" "00000000" "ffffffff0f")  # v9: compact length 2**32-2
    with pytest.raises(ProtocolError, match="cannot fit"):
        decode_response("Metadata", 9, raw)


def test_invalid_utf8_is_a_protocol_error():
    raw = bytes.fromhex("00000001" "0000" "00000001" "0002" "fffe")  # SaslHandshake v0
    with pytest.raises(ProtocolError, match=r"SaslHandshakeResponse v0: Mechanisms\[\].*UTF-8"):
        decode_response("SaslHandshake", 0, raw)
