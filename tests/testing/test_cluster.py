"""Three-node cluster: leader failure with RF=3 / min.insync.replicas=2, restart, rejoin."""

from __future__ import annotations

import pytest

from kprod.testing import KafkaCluster
from kprod.testing.reference import consume, produce

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _partition0(cluster: KafkaCluster, topic: str):
    meta = cluster.admin().list_topics(topic, timeout=10)
    return meta.topics[topic].partitions[0]


def test_cluster_shape(kafka_cluster: KafkaCluster) -> None:
    assert kafka_cluster.broker_ids == [1, 2, 3]
    assert len(kafka_cluster.bootstrap_servers.split(",")) == 3
    assert set(kafka_cluster.admin().list_topics(timeout=10).brokers) == {1, 2, 3}


def test_leader_kill_and_rejoin(kafka_cluster: KafkaCluster, make_topic) -> None:
    bootstrap = kafka_cluster.bootstrap_servers
    topic = make_topic(replication_factor=3, configs={"min.insync.replicas": 2},
                       cluster=kafka_cluster)
    assert sorted(_partition0(kafka_cluster, topic).isrs) == [1, 2, 3]
    produce(bootstrap, topic, [b"before-%d" % i for i in range(50)])

    leader = _partition0(kafka_cluster, topic).leader
    kafka_cluster.kill_broker(leader)
    try:
        # acks=all still succeeds: the two survivors satisfy min.insync.replicas=2.
        produce(bootstrap, topic, [b"during-%d" % i for i in range(50)], timeout=60)
        p0 = _partition0(kafka_cluster, topic)
        assert p0.leader not in (leader, -1)
        got = consume(bootstrap, topic, 100, timeout=60)
        assert [m.value() for m in got][:2] == [b"before-0", b"before-1"]
        assert len({m.value() for m in got}) == 100
    finally:
        kafka_cluster.start_broker(leader)
    kafka_cluster.wait_for_topic(topic, in_sync=True, timeout=60)
    assert sorted(_partition0(kafka_cluster, topic).isrs) == [1, 2, 3]
    assert set(kafka_cluster.admin().list_topics(timeout=10).brokers) == {1, 2, 3}


def test_graceful_stop_and_restart(kafka_cluster: KafkaCluster, make_topic) -> None:
    topic = make_topic(partitions=3, replication_factor=3, cluster=kafka_cluster)
    kafka_cluster.stop_broker(3)
    try:
        assert kafka_cluster.pid(3) is None
        produce(kafka_cluster.bootstrap_servers, topic, [b"x"] * 30, timeout=60)
    finally:
        kafka_cluster.start_broker(3)
    kafka_cluster.wait_for_topic(topic, in_sync=True, timeout=60)
    assert len(consume(kafka_cluster.bootstrap_servers, topic, 30)) == 30
