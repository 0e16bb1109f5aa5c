"""The connection-level Produce round trip against a Kafka 3.9.x broker (older
ApiVersions ranges: Produce max v11, Metadata max v12)."""
from __future__ import annotations

import pytest

from kprod.testing import KafkaCluster

from .support import Loop, open_connection, produce_every_codec_and_read_back

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def kafka39():
    with KafkaCluster(brokers=1, version="3.9.1") as cluster:
        yield cluster


def test_negotiates_kafka_39_versions(kafka39):
    loop = Loop()
    conn = open_connection(loop, kafka39.broker_address(1))
    try:
        ranges = conn.broker_ranges
        assert ranges[0][1] == 11              # Produce v12 arrived with Kafka 4.0
        assert conn.api_versions["Produce"] == 11
        assert conn.api_versions["Metadata"] == min(12, ranges[3][1])
    finally:
        conn.close(None)
        loop.close()


def test_produce_every_codec_against_kafka_39(kafka39):
    topic = kafka39.create_topic("conn-kafka39-codecs")
    produce_every_codec_and_read_back(kafka39.bootstrap_servers, topic)
