"""KIP-219 against a real broker: a client-id quota (KIP-13) throttles the producer; the
producer sends that broker nothing until each throttle has passed, and every record is
still acknowledged and read back by the reference consumer (confluent-kafka)."""
from __future__ import annotations

import subprocess
import uuid

import pytest

from kprod.testing.artifacts import java_tool_command

from .. import reference

pytestmark = pytest.mark.timeout(240)


def _observe(network):
    """Record (clock ms, node id, api) of every request the sender hands the network
    client, and (clock ms when the poll began, node id, api, throttle_time_ms) of every
    answer a poll returns: the poll began before the answer was read, so "sent at least
    throttle_time_ms after it" is a safe check of the client's pause."""
    sends, answers = [], []
    send, poll = network.send, network.poll

    def observed_send(conn, api, body, handler, expect_response=True):
        sends.append((network.clock(), conn.node_id, api))
        return send(conn, api, body, handler, expect_response)

    def observed_poll(timeout_ms, now):
        began = network.clock()
        done = poll(timeout_ms, now)
        for response in done:
            if response.body is not None:
                answers.append((began, response.node_id, response.api,
                                getattr(response.body, "throttle_time_ms", 0)))
        return done

    network.send, network.poll = observed_send, observed_poll
    return sends, answers


def _quota(kafka, client_id: str) -> None:
    subprocess.run(java_tool_command(
        "kafka.admin.ConfigCommand", "--bootstrap-server", kafka.bootstrap_servers,
        "--alter", "--add-config", "producer_byte_rate=15000", "--entity-type", "clients",
        "--entity-name", client_id), check=True, capture_output=True, timeout=120)


def _check_pauses(sends, answers) -> list:
    """Every request to a broker after an answer of it that throttled came at least the
    throttle time later; returns the APIs of the requests that followed a throttle."""
    throttled = [(began, node, ms) for began, node, api, ms in answers if ms > 0]
    assert throttled, "the quota never throttled the producer"
    paused = []
    for began, node, ms in throttled:
        for sent, to, api in sends:
            if to == node and sent > began:
                assert sent >= began + ms, (
                    f"{api} sent to broker {node} {sent - began:.0f} ms after an answer "
                    f"that throttled it for {ms} ms")
                paused.append(api)
    return paused


VALUES = [b"%06d" % i + b"q" * 994 for i in range(300)]


def test_a_quota_throttled_producer_pauses_and_delivers_everything(kafka, make_topic,
                                                                   make_producer):
    # The broker measures the rate over at least 10 s (11 one-second samples): 300 KB
    # at once against a 15 KB/s quota gives throttles of a few seconds each.
    client_id = f"throttled-{uuid.uuid4().hex[:8]}"
    _quota(kafka, client_id)
    topic = make_topic()
    producer = make_producer(client_id=client_id, linger_ms=5, batch_size=16384)
    producer.partitions_for(topic)                    # metadata first: then observe
    sends, answers = _observe(producer._sender.network)
    futures = [producer.send(topic, value) for value in VALUES]
    producer.flush(120)
    offsets = sorted(f.get(0).offset for f in futures)
    assert offsets == list(range(300))                # every record acknowledged, once
    assert any(api == "Produce" and ms > 0 for _, _, api, ms in answers)
    assert "Produce" in _check_pauses(sends, answers)     # requests did follow one
    assert producer.metrics()["produce-throttle-time-max"] > 0

    read = reference.consume(kafka.bootstrap_servers, topic, 300, timeout=60)
    assert sorted(m.value() for m in read) == VALUES


def test_a_throttled_transactional_producer_commits_everything(kafka, make_topic,
                                                               make_producer):
    # The coordinator is the same broker: EndTxn (and AddPartitionsToTxn before
    # KIP-890's transactions v2) waits for the Produce throttle too (the transaction
    # manager's requests see the broker as not ready).
    client_id = f"throttled-txn-{uuid.uuid4().hex[:8]}"
    _quota(kafka, client_id)
    topic = make_topic(partitions=2)
    producer = make_producer(client_id=client_id, linger_ms=5, batch_size=16384,
                             transactional_id=f"txn-{client_id}")
    producer.init_transactions()
    producer.partitions_for(topic)
    sends, answers = _observe(producer._sender.network)
    for half in (VALUES[:150], VALUES[150:]):
        producer.begin_transaction()
        futures = [producer.send(topic, value) for value in half]
        producer.commit_transaction(120)
        assert all(f.done() and f.exception() is None for f in futures)
    assert "EndTxn" in _check_pauses(sends, answers)

    read = reference.consume(kafka.bootstrap_servers, topic, 300, timeout=60)
    assert sorted(m.value() for m in read) == VALUES       # read_committed
