"""Produce v13 (KIP-516: topics addressed by id) against the real broker.

Kafka 4.1 offers Produce v13; kprod negotiates it when every topic of a request has an
id in the metadata, and falls back to v12 for a request with a topic it has no id for
(as Java's Sender does). A topic deleted and re-created under the same name has a new
id: the broker answers UNKNOWN_TOPIC_ID, and the record reaches the new topic after a
metadata refresh.
"""
from __future__ import annotations

import time
from typing import List, Tuple

from confluent_kafka.admin import AdminClient

from kprod import Producer
from kprod._internals.protocol.primitives import ZERO_UUID

from .readback import read_all


def _record_produce_versions(producer: Producer) -> List[Tuple[int, int]]:
    """(node id, Produce version) of every Produce request the producer writes."""
    network = producer._sender.network
    seen: List[Tuple[int, int]] = []
    original = network.send

    def send(conn, api, body, handler, expect_response=True):
        original(conn, api, body, handler, expect_response)
        if api == "Produce":
            seen.append((conn.node_id, conn.in_flight[-1].version))

    network.send = send
    return seen


def test_produce_v13_names_topics_by_id(kafka, make_topic):
    first, second = make_topic(partitions=3), make_topic(partitions=2)
    with Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 20}) as p:
        versions = _record_produce_versions(p)
        futures = [p.send(t, f"{t}-{i}".encode(), key=str(i).encode())
                   for i in range(300) for t in (first, second)]
        p.flush()
        metadata = [f.get(10) for f in futures]
    assert versions and {v for _, v in versions} == {13}, versions
    assert {m.topic for m in metadata} == {first, second}
    for t in (first, second):
        got = read_all(kafka.bootstrap_servers, t, expected=300)
        assert sorted(m.value for m in got) == sorted(f"{t}-{i}".encode() for i in range(300))


def test_a_topic_without_an_id_caps_the_request_at_v12(kafka, topic):
    with Producer({"bootstrap.servers": kafka.bootstrap_servers}) as p:
        p.send(topic, b"warm").get(20)
        versions = _record_produce_versions(p)
        info = p._metadata.snapshot.topics[topic]
        # As if the metadata came from a broker that gives no topic ids.
        p._metadata.snapshot.topics[topic] = type(info)(info.name, ZERO_UUID,
                                                         list(info.partitions))
        assert p.send(topic, b"v12").get(20).offset == 1
    assert versions == [(versions[0][0], 12)]
    assert [m.value for m in read_all(kafka.bootstrap_servers, topic, expected=2)] == \
        [b"warm", b"v12"]


def test_recreated_topic_gets_its_new_id(kafka, make_topic):
    name = make_topic(partitions=1)
    with Producer({"bootstrap.servers": kafka.bootstrap_servers,
                   "metadata.max.age.ms": 600_000}) as p:
        assert p.send(name, b"old").get(20).offset == 0
        old_id = p._metadata.snapshot.topics[name].topic_id
        admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
        admin.delete_topics([name])[name].result(30)
        deadline = time.monotonic() + 60
        while True:      # deletion completes asynchronously on the broker
            try:
                kafka.create_topic(name, 1, 1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        md = p.send(name, b"new").get(60)
        assert (md.partition, md.offset) == (0, 0)
        assert p._metadata.snapshot.topics[name].topic_id not in (old_id, ZERO_UUID)
    assert [m.value for m in read_all(kafka.bootstrap_servers, name, expected=1)] == [b"new"]
