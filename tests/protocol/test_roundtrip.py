"""Encode -> decode round trips for every message and version kprod has."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._internals.protocol import (decode_request, decode_response, encode_request,
                                       encode_response)
from kprod._internals.protocol.schema import struct_default

from .strategies import all_versions, body, ids, normalize

PAIRS = all_versions("valid")
_SETTINGS = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
def test_default_bodies_round_trip(api, version):
    req = struct_default(api.request.fields)
    chunks, size = encode_request(api.name, version, 7, "kprod", req)
    frame = b"".join(bytes(c) for c in chunks)
    assert len(frame) == size + 4 and int.from_bytes(frame[:4], "big") == size
    header, got = decode_request(frame[4:])
    assert header == {"api_key": api.key, "api_version": version, "correlation_id": 7,
                      "client_id": "kprod"}
    assert normalize(got) == req

    resp = struct_default(api.response.fields)
    corr, got = decode_response(api.key, version, encode_response(api.key, version, 9, resp))
    assert corr == 9 and got == resp


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
@_SETTINGS
@given(data=st.data())
def test_generated_requests_round_trip(api, version, data):
    req = data.draw(body(api.request, version))
    chunks, size = encode_request(api.key, version, 123, None, req, framed=False)
    frame = b"".join(bytes(c) for c in chunks)
    assert len(frame) == size
    header, got = decode_request(frame)
    assert header["client_id"] is None and header["correlation_id"] == 123
    assert normalize(got) == req


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
@_SETTINGS
@given(data=st.data())
def test_generated_responses_round_trip(api, version, data):
    resp = data.draw(body(api.response, version))
    raw = encode_response(api.key, version, -5, resp)
    corr, got = decode_response(api.key, version, memoryview(raw))
    assert corr == -5 and got == resp
    # re-encoding the decoded body is byte-identical
    assert encode_response(api.key, version, -5, got) == raw


@settings(max_examples=200, deadline=None)
@given(st.integers(3, 13), st.data())
def test_produce_request_many_examples(version, data):
    from kprod._internals.protocol import BY_NAME

    req = data.draw(body(BY_NAME["Produce"].request, version))
    chunks, _ = encode_request("Produce", version, 1, "c", req)
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert normalize(got) == req


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 13), st.data())
def test_metadata_response_many_examples(version, data):
    from kprod._internals.protocol import BY_NAME

    resp = data.draw(body(BY_NAME["Metadata"].response, version))
    _, got = decode_response("Metadata", version, encode_response("Metadata", version, 1, resp))
    assert got == resp


def test_omitted_fields_take_defaults():
    chunks, _ = encode_request("Produce", 9, 1, "c", {"acks": -1, "timeout_ms": 1000})
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert got == {"transactional_id": None, "acks": -1, "timeout_ms": 1000, "topic_data": []}


def test_fields_outside_the_version_are_ignored_on_encode():
    # TopicId only exists from v13; at v12 it is not written
    body12 = {"acks": 1, "timeout_ms": 1, "topic_data": [
        {"name": "t", "topic_id": __import__("uuid").uuid4(), "partition_data": []}]}
    chunks, _ = encode_request("Produce", 12, 1, "c", body12)
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert got["topic_data"][0]["name"] == "t"
    assert got["topic_data"][0]["topic_id"].int == 0


def test_unencodable_value_raises_value_error():
    with pytest.raises(ValueError, match="ProduceRequest v9"):
        encode_request("Produce", 9, 1, "c", {"acks": 1 << 20, "timeout_ms": 0})
    with pytest.raises(ValueError, match="no version 2"):
        encode_request("Produce", 2, 1, "c", {})
