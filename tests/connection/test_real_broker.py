"""One BrokerConnection against the real local Kafka broker (the ``kafka`` fixture):
ApiVersions negotiation, Metadata, Produce for every codec with both acks
settings (read back by librdkafka), and pipelining."""
from __future__ import annotations

import socket
import struct
import uuid

import pytest

from kprod._internals import protocol as proto
from kprod._internals.protocol import types as T
from kprod._internals.connection import READY
from kprod._internals.network import CLIENT_VERSIONS as SUPPORTED

from .support import (
    CODECS, Calls, Loop, build_batch, check_produce_response, check_read_back,
    open_connection, produce_body, produce_every_codec_and_read_back, request, sample_records,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


def _raw_api_versions_v0(address: str) -> dict:
    """ApiVersions v0 over a plain blocking socket, encoded and parsed by hand
    (independent of kprod's codecs): {api_key: (min, max)}."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        client_id = b"raw"
        payload = struct.pack(">hhih", 18, 0, 4242, len(client_id)) + client_id
        s.sendall(struct.pack(">i", len(payload)) + payload)
        data = b""
        while len(data) < 4 or len(data) < 4 + struct.unpack_from(">i", data)[0]:
            chunk = s.recv(65536)
            assert chunk, "broker closed the raw ApiVersions connection"
            data += chunk
    size, cid, error, n = struct.unpack_from(">iihi", data)
    assert cid == 4242 and error == 0 and size == len(data) - 4
    ranges = {}
    for i in range(n):
        key, lo, hi = struct.unpack_from(">hhh", data, 14 + 6 * i)
        ranges[key] = (lo, hi)
    return ranges


def test_api_versions_negotiates_highest_common_version(kafka, loop):
    address = kafka.broker_address(1)
    conn = open_connection(loop, address)
    try:
        raw = _raw_api_versions_v0(address)
        assert conn.broker_ranges == raw
        assert conn.api_versions["ApiVersions"] == min(SUPPORTED["ApiVersions"][1], raw[18][1])
        negotiated = 0
        for api, (lo, hi) in SUPPORTED.items():
            key = proto.BY_NAME[api].key
            if key not in raw:
                assert api not in conn.api_versions
                continue
            expected = min(hi, raw[key][1])
            assert expected >= max(lo, raw[key][0]), api
            assert conn.api_versions[api] == expected, api
            negotiated += 1
        assert negotiated >= 8
        # Kafka 4.x brokers: Produce 3+ and Metadata up to at least 12.
        assert conn.api_versions["Produce"] == min(SUPPORTED["Produce"][1], raw[0][1]) >= 9
        assert conn.api_versions["Metadata"] == 12
    finally:
        conn.close(None)


def test_metadata_lists_topics_partitions_leaders_and_ids(kafka, make_topic, loop):
    from confluent_kafka import TopicCollection

    three = make_topic(partitions=3)
    one = make_topic(partitions=1)
    missing = f"{one}-does-not-exist"
    conn = open_connection(loop, kafka.broker_address(1))
    try:
        response = request(loop, conn, "Metadata", T.MetadataRequest(
            topics=[T.MetadataRequestTopic(name=n) for n in (three, one, missing)],
            allow_auto_topic_creation=False, include_topic_authorized_operations=False))
    finally:
        conn.close(None)
    port = int(kafka.broker_address(1).rpartition(":")[2])
    assert [(b.node_id, b.host, b.port) for b in response.brokers] == [(1, "127.0.0.1", port)]
    assert response.cluster_id and response.controller_id in (1, -1)
    topics = {t.name: t for t in response.topics}
    assert set(topics) == {three, one, missing}
    assert topics[missing].error_code == 3            # UNKNOWN_TOPIC_OR_PARTITION
    ids = {}
    for name, count in ((three, 3), (one, 1)):
        t = topics[name]
        assert t.error_code == 0 and not t.is_internal
        assert isinstance(t.topic_id, uuid.UUID) and t.topic_id.int != 0
        ids[name] = t.topic_id
        parts = sorted(t.partitions, key=lambda p: p.partition_index)
        assert [p.partition_index for p in parts] == list(range(count))
        for p in parts:
            assert p.error_code == 0
            assert p.leader_id == 1 and p.leader_epoch >= 0
            assert p.replica_nodes == [1] and p.isr_nodes == [1]
            assert p.offline_replicas == []
    assert ids[three] != ids[one]
    # The topic ids agree with what librdkafka's admin client reports.
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})  # outlives the futures
    described = admin.describe_topics(TopicCollection([three, one]))
    for name, fut in described.items():
        tid = fut.result(20).topic_id
        msb, lsb = tid.get_most_significant_bits(), tid.get_least_significant_bits()
        assert ids[name] == uuid.UUID(int=((msb & (2**64 - 1)) << 64) | (lsb & (2**64 - 1)))


def test_produce_every_codec_acks_1_and_all_read_back_by_librdkafka(kafka, make_topic):
    topic = make_topic()
    produce_every_codec_and_read_back(kafka.bootstrap_servers, topic)


def test_requests_are_pipelined_and_answered_in_order(kafka, make_topic, loop):
    topic = make_topic(partitions=2)
    conn = open_connection(loop, kafka.broker_address(1))
    calls = Calls()
    sent = []
    try:
        assert conn.settings.max_in_flight == 5
        for i in range(5):
            assert conn.can_send_more()
            if i == 2:
                sent.append(("meta", None, conn.send("Metadata", T.MetadataRequest(
                    topics=[T.MetadataRequestTopic(name=topic)], allow_auto_topic_creation=False),
                    calls.handler(i))))
                continue
            records = sample_records(10, 100 + i)
            _, batch = build_batch(records, CODECS["lz4"] if i % 2 else 0)
            sent.append(("produce", records, conn.send(
                "Produce", produce_body(topic, i % 2, batch, -1), calls.handler(i))))
        # All five were written without waiting for any answer; a sixth must wait.
        assert len(conn.in_flight) == 5 and all(r.fully_written for r in conn.in_flight)
        assert not conn.can_send_more()
        ids = [r.correlation_id for _, _, r in sent]
        assert ids == sorted(ids) and len(set(ids)) == 5
        loop.run_until(lambda: len(calls) == 5, [conn], 30)
        assert conn.state == READY and not conn.in_flight and conn.can_send_more()
    finally:
        conn.close(None)
    assert [tag for tag, _, _ in calls.calls] == [0, 1, 2, 3, 4]
    assert all(err is None for _, _, err in calls.calls)
    assert calls.calls[2][1].topics[0].name == topic
    produced = {0: [], 1: []}
    for (kind, records, _), (i, response, _) in zip(sent, calls.calls):
        if kind == "produce":
            offset = check_produce_response(response, topic, i % 2)
            produced[i % 2].append((f"request {i}", offset, records))
    for partition, items in produced.items():
        assert [o for _, o, _ in items] == [0, 10]     # in send order on each partition
        check_read_back(kafka.bootstrap_servers, topic, partition, items)
