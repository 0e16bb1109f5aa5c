"""Encode -> decode round trips for every message and version kprod has."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod._internals.protocol import (decode_request, decode_response, encode_request,
                                       encode_response)
from kprod._internals.protocol import types
from kprod._internals.protocol.headers import RequestHeader

from .strategies import all_versions, body, default_body, ids, normalize

PAIRS = all_versions("valid")
_SETTINGS = settings(max_examples=25, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("api,version", PAIRS, ids=ids(PAIRS))
def test_default_bodies_round_trip(api, version):
    req = default_body(api.request)
    chunks, size = encode_request(api.name, version, 7, "kprod", req)
    frame = b"".join(bytes(c) for c in chunks)
    assert len(frame) == size + 4 and int.from_bytes(frame[:4], "big") == size
    header, got = decode_request(frame[4:])
    assert header == RequestHeader(api_key=api.key, api_version=version, correlation_id=7,
                                   client_id="kprod")
    assert got == req and type(got) is type(req)

    resp = default_body(api.response)
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
    assert header.client_id is None and header.correlation_id == 123
    assert got == req and normalize(got) == normalize(req)


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
    assert got == req


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 13), st.data())
def test_metadata_response_many_examples(version, data):
    from kprod._internals.protocol import BY_NAME

    resp = data.draw(body(BY_NAME["Metadata"].response, version))
    _, got = decode_response("Metadata", version, encode_response("Metadata", version, 1, resp))
    assert got == resp


def test_omitted_fields_take_defaults():
    chunks, _ = encode_request("Produce", 9, 1, "c", types.ProduceRequest(acks=-1, timeout_ms=1000))
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert got.to_dict() == {"transactional_id": None, "acks": -1, "timeout_ms": 1000,
                             "topic_data": []}


def test_fields_outside_the_version_are_ignored_on_encode():
    # TopicId only exists from v13; at v12 it is not written
    body12 = types.ProduceRequest(acks=1, timeout_ms=1, topic_data=[
        types.TopicProduceData(name="t", topic_id=__import__("uuid").uuid4())])
    chunks, _ = encode_request("Produce", 12, 1, "c", body12)
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert got.topic_data[0].name == "t"
    assert got.topic_data[0].topic_id.int == 0


def test_unencodable_value_raises_value_error():
    with pytest.raises(ValueError, match="ProduceRequest v9"):
        encode_request("Produce", 9, 1, "c", types.ProduceRequest(acks=1 << 20, timeout_ms=0))
    with pytest.raises(ValueError, match="no version 2"):
        encode_request("Produce", 2, 1, "c", types.ProduceRequest())


def test_wrong_body_type_is_a_type_error_naming_both():
    with pytest.raises(TypeError, match="ProduceRequest v9: the body must be a ProduceRequest, "
                                        "not dict"):
        encode_request("Produce", 9, 1, "c", {"acks": 1})
    with pytest.raises(TypeError, match="must be a MetadataResponse, not ProduceResponse"):
        encode_response("Metadata", 12, 1, types.ProduceResponse())


def test_fresh_defaults_per_object_and_null_versus_empty():
    a, b = types.ProduceResponse(), types.ProduceResponse()
    a.responses.append(types.TopicProduceResponse(name="t"))
    assert b.responses == []
    p, q = types.PartitionProduceResponse(), types.PartitionProduceResponse()
    assert p.current_leader is not q.current_leader and p.current_leader.leader_id == -1
    # a nullable array whose default is empty: None stays null (all topics), omitted is []
    assert types.MetadataRequest().topics == []
    assert types.MetadataRequest(topics=None).topics is None
    chunks, _ = encode_request("Metadata", 12, 1, "c", types.MetadataRequest(topics=None))
    _, got = decode_request(b"".join(bytes(c) for c in chunks)[4:])
    assert got.topics is None


def test_dict_conversion_round_trips_and_rejects_unknown_keys():
    resp = types.ProduceResponse(responses=[types.TopicProduceResponse(
        name="t", partition_responses=[types.PartitionProduceResponse(index=2, error_code=6)])])
    assert types.ProduceResponse.from_dict(resp.to_dict()) == resp
    assert "PartitionProduceResponse(index=2, error_code=6" in repr(resp)
    with pytest.raises(TypeError, match="ProduceRequest has no field.*acsk"):
        types.ProduceRequest.from_dict({"acsk": 1})
    with pytest.raises(AttributeError):
        types.ProduceRequest().acsk = 1  # slotted: a typo is an error, not a new attribute
