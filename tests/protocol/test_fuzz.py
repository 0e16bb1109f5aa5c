"""Decoders on hostile input: only ProtocolError (or a clean decode), quickly."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._internals.protocol import decode_request, decode_response, encode_response
from kprod.errors import ProtocolError

from .strategies import all_versions, body, ids, message_class

PAIRS = all_versions("supported")
_FAST = settings(max_examples=60, deadline=2000,  # ms per example: no pathological loops
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _decode(api, version, data):
    try:
        decode_response(api.key, version, data)
    except ProtocolError as exc:
        assert str(exc)  # carries a message naming where it failed


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
@_FAST
@given(data=st.binary(max_size=300))
def test_random_bytes(api, version, data):
    _decode(api, version, data)


@st.composite
def _mutated(draw, api, version):
    raw = bytearray(encode_response(api.key, version, 1, draw(body(api.response, version))))
    kind = draw(st.sampled_from(["truncate", "flip", "overwrite", "insert", "delete"]))
    if kind == "truncate":
        return bytes(raw[:draw(st.integers(0, max(len(raw) - 1, 0)))])
    if not raw:
        return bytes(raw)
    i = draw(st.integers(0, len(raw) - 1))
    if kind == "flip":
        raw[i] ^= 1 << draw(st.integers(0, 7))
    elif kind == "overwrite":
        chunk = draw(st.binary(min_size=1, max_size=8))
        raw[i:i + len(chunk)] = chunk
    elif kind == "insert":
        raw[i:i] = draw(st.binary(min_size=1, max_size=8))
    else:
        del raw[i:i + draw(st.integers(1, 8))]
    return bytes(raw)


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
@_FAST
@given(data=st.data())
def test_mutated_valid_responses(api, version, data):
    _decode(api, version, data.draw(_mutated(api, version)))


@pytest.mark.parametrize("api,version",
                         [(a, v) for a, v in PAIRS if a.name in ("Produce", "Metadata")],
                         ids=ids([(a, v) for a, v in PAIRS if a.name in ("Produce", "Metadata")]))
def test_every_truncation_is_a_protocol_error(api, version):
    resp = {"responses": [{"name": "topic", "partition_responses": [
        {"index": 1, "error_code": 0, "base_offset": 5, "record_errors": [
            {"batch_index": 0, "batch_index_error_message": "bad"}],
         "error_message": "m", "current_leader": {"leader_id": 1, "leader_epoch": 2}}]}],
        "throttle_time_ms": 3,
        "node_endpoints": [{"node_id": 1, "host": "h", "port": 9, "rack": "r"}]} \
        if api.name == "Produce" else {
        "brokers": [{"node_id": 1, "host": "host", "port": 9092, "rack": "r"}], "cluster_id": "c",
        "topics": [{"name": "t", "partitions": [
            {"partition_index": 0, "leader_id": 1, "replica_nodes": [1, 2], "isr_nodes": [1],
             "offline_replicas": [2]}]}]}
    raw = encode_response(api.key, version, 1, message_class(api.response).from_dict(resp))
    decode_response(api.key, version, raw)
    for n in range(len(raw)):
        with pytest.raises(ProtocolError):
            decode_response(api.key, version, raw[:n])


@_FAST
@given(st.binary(max_size=200))
def test_decode_request_random_bytes(data):
    try:
        decode_request(data)
    except ProtocolError:
        pass


def test_huge_lengths_fail_fast():
    start = time.monotonic()
    for prefix in ("7fffffff", "ffffffff0f", "fffffffe"):
        for api, version in PAIRS:
            data = bytes.fromhex("00000001" + ("00" if version >= 9 else "") + prefix * 4)
            _decode(api, version, data)
    assert time.monotonic() - start < 5
