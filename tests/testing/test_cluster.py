"""Three-node cluster: leader failure with RF=3 / min.insync.replicas=2, restart, rejoin."""

from __future__ import annotations

import pytest

from kprod.testing import KafkaCluster
from tests.reference import consume, produce

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def _partition0(cluster: KafkaCluster, topic: str):
    with cluster.admin() as admin:
        return admin.describe_topics(topic, timeout=10)[topic].partitions[0]


def _broker_ids(cluster: KafkaCluster) -> set:
    with cluster.admin() as admin:
        return {b.node_id for b in admin.describe_cluster(timeout=10).brokers}


def test_cluster_shape(three_brokers: KafkaCluster) -> None:
    assert three_brokers.broker_ids == [1, 2, 3]
    assert len(three_brokers.bootstrap_servers.split(",")) == 3
    assert _broker_ids(three_brokers) == {1, 2, 3}


def test_leader_kill_and_rejoin(three_brokers: KafkaCluster, make_topic) -> None:
    bootstrap = three_brokers.bootstrap_servers
    topic = make_topic(replication_factor=3, configs={"min.insync.replicas": 2},
                       cluster=three_brokers)
    assert sorted(_partition0(three_brokers, topic).isr) == [1, 2, 3]
    produce(bootstrap, topic, [b"before-%d" % i for i in range(50)])

    leader = _partition0(three_brokers, topic).leader
    three_brokers.kill_broker(leader)
    try:
        # acks=all still succeeds: the two survivors satisfy min.insync.replicas=2.
        produce(bootstrap, topic, [b"during-%d" % i for i in range(50)], timeout=60)
        p0 = _partition0(three_brokers, topic)
        assert p0.leader not in (leader, None)
        got = consume(bootstrap, topic, 100, timeout=60)
        assert [m.value() for m in got][:2] == [b"before-0", b"before-1"]
        assert len({m.value() for m in got}) == 100
    finally:
        three_brokers.start_broker(leader)
    three_brokers.wait_for_topic(topic, in_sync=True, timeout=60)
    assert sorted(_partition0(three_brokers, topic).isr) == [1, 2, 3]
    assert _broker_ids(three_brokers) == {1, 2, 3}


def test_graceful_stop_and_restart(three_brokers: KafkaCluster, make_topic) -> None:
    topic = make_topic(partitions=3, replication_factor=3, cluster=three_brokers)
    three_brokers.stop_broker(3)
    try:
        assert three_brokers.pid(3) is None
        produce(three_brokers.bootstrap_servers, topic, [b"x"] * 30, timeout=60)
    finally:
        three_brokers.start_broker(3)
    three_brokers.wait_for_topic(topic, in_sync=True, timeout=60)
    assert len(consume(three_brokers.bootstrap_servers, topic, 30)) == 30
