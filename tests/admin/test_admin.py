"""kprod.admin.AdminClient against the real broker; what it reports is checked against
confluent-kafka (librdkafka), which shares no code with kprod."""
from __future__ import annotations

import itertools
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from kprod import Producer
from kprod.admin import AdminClient, NewTopic, OffsetSpec
from kprod.errors import (
    AuthenticationError,
    IllegalStateError,
    InvalidConfigurationError,
    InvalidReplicationFactorError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)
from kprod.testing import KafkaCluster

pytestmark = pytest.mark.kafka

_names = itertools.count(1)


def _name(prefix: str) -> str:
    return f"admin-{prefix}-{next(_names)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def admin(kafka: KafkaCluster):
    with AdminClient({"bootstrap.servers": kafka.bootstrap_servers}) as client:
        yield client


def _librdkafka_topic(bootstrap: str, topic: str):
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "admin-tests-probe"})
    try:
        return probe.list_topics(topic, timeout=10).topics[topic]
    finally:
        probe.close()


def test_create_with_configs_then_describe_configs_and_partitions(kafka, admin) -> None:
    topic = _name("configs")
    created = admin.create_topics([NewTopic(topic, partitions=4, replication_factor=1, configs={
        "retention.ms": 3600000, "cleanup.policy": "compact", "max.message.bytes": "2000000",
        "unclean.leader.election.enable": False})])
    assert list(created) == [topic]
    assert created[topic].partitions == 4 and created[topic].replication_factor == 1
    configs = admin.describe_configs(topic)
    for name, value in [("retention.ms", "3600000"), ("cleanup.policy", "compact"),
                        ("max.message.bytes", "2000000"),
                        ("unclean.leader.election.enable", "false")]:
        assert configs[name].value == value
        assert configs[name].source == "DYNAMIC_TOPIC_CONFIG" and not configs[name].is_default
    assert configs["segment.bytes"].source != "DYNAMIC_TOPIC_CONFIG"   # not set: inherited
    description = admin.describe_topics([topic])[topic]
    assert description.topic_id == created[topic].topic_id and description.topic_id.int != 0
    assert not description.internal
    assert [p.partition for p in description.partitions] == [0, 1, 2, 3]
    for p in description.partitions:
        assert p.leader == 1 and p.replicas == [1] and p.isr == [1] and p.leader_epoch >= 0
        assert p.offline_replicas == []
    # librdkafka sees the same topic: partitions, leaders, replicas, ISR.
    theirs = _librdkafka_topic(kafka.bootstrap_servers, topic)
    assert sorted(theirs.partitions) == [0, 1, 2, 3]
    for p in description.partitions:
        mine = theirs.partitions[p.partition]
        assert (mine.leader, list(mine.replicas), list(mine.isrs)) == (p.leader, p.replicas,
                                                                        p.isr)
    assert topic in admin.list_topics()
    assert "__consumer_offsets" not in admin.list_topics()


def test_create_existing_raises_topic_already_exists(admin) -> None:
    topic = admin.create_topic(_name("twice"), 1, 1).name
    with pytest.raises(TopicAlreadyExistsError, match=topic) as info:
        admin.create_topic(topic, 1, 1)
    assert info.value.code == TopicAlreadyExistsError.code


def test_one_failure_names_the_topics_the_call_did_create(admin) -> None:
    existing = admin.create_topic(_name("exists"), 1, 1).name
    fresh = _name("fresh")
    with pytest.raises(TopicAlreadyExistsError, match=existing) as info:
        admin.create_topics([NewTopic(existing, 1, 1), NewTopic(fresh, 2, 1)])
    assert fresh in str(info.value)
    assert len(admin.describe_topics(fresh)[fresh].partitions) == 2


def test_invalid_replication_factor_is_typed_and_creates_nothing(admin) -> None:
    topic = _name("rf")
    with pytest.raises(InvalidReplicationFactorError, match=topic):
        admin.create_topic(topic, partitions=1, replication_factor=3)
    assert topic not in admin.list_topics()
    with pytest.raises(UnknownTopicOrPartitionError, match=topic):
        admin.describe_topics(topic)


def test_invalid_topic_config_is_typed(admin) -> None:
    topic = _name("badconfig")
    with pytest.raises(InvalidConfigurationError, match=topic):
        admin.create_topic(topic, 1, 1, configs={"cleanup.policy": "shred"})
    assert topic not in admin.list_topics()


def test_validate_only_creates_nothing(admin) -> None:
    topic = _name("validate")
    result = admin.create_topics([NewTopic(topic, 3, 1)], validate_only=True)
    assert list(result) == [topic]
    assert topic not in admin.list_topics()
    with pytest.raises(InvalidReplicationFactorError):
        admin.create_topics([NewTopic(topic, 3, 7)], validate_only=True)


def test_broker_defaults_when_partitions_and_rf_are_not_given(admin) -> None:
    topic = _name("defaults")
    admin.create_topics([NewTopic(topic)])
    # kprod.testing's broker: num.partitions=1, default.replication.factor=1.
    [p] = admin.describe_topics(topic)[topic].partitions
    assert p.replicas == [1]


def test_delete_then_create_again(kafka, admin) -> None:
    topic = admin.create_topic(_name("delete"), 3, 1).name
    admin.delete_topics([topic])
    assert topic not in admin.list_topics()
    with pytest.raises(UnknownTopicOrPartitionError, match=topic):
        admin.describe_topics(topic)
    with pytest.raises(UnknownTopicOrPartitionError, match=topic):
        admin.delete_topics(topic)
    # wait=True returned only once no broker lists it: the name is free again.
    admin.create_topic(topic, 2, 1)
    assert len(_librdkafka_topic(kafka.bootstrap_servers, topic).partitions) == 2


def test_delete_reports_unknown_topic_and_deletes_the_others(admin) -> None:
    real = admin.create_topic(_name("del-real"), 1, 1).name
    missing = _name("del-missing")
    with pytest.raises(UnknownTopicOrPartitionError, match=missing) as info:
        admin.delete_topics([missing, real])
    assert real in str(info.value)
    assert real not in admin.list_topics()


def test_list_offsets_after_producing_n_records(kafka, admin) -> None:
    topic = admin.create_topic(_name("offsets"), 3, 1).name
    n = 1000
    before_ms = int(time.time() * 1000) - 1
    with Producer(bootstrap_servers=kafka.bootstrap_servers, linger_ms=5) as producer:
        futures = [producer.send(topic, b"v%d" % i, key=b"k%d" % i) for i in range(n)]
        producer.flush(30)
    written = {}
    for future in futures:
        metadata = future.get(10)
        written[metadata.partition] = written.get(metadata.partition, 0) + 1
    latest = admin.list_offsets(topic)
    assert sorted(latest) == [(topic, 0), (topic, 1), (topic, 2)]
    assert sum(o.offset for o in latest.values()) == n
    assert {p: latest[(topic, p)].offset for p in written} == written
    earliest = admin.list_offsets(topic, OffsetSpec.earliest())
    assert all(o.offset == 0 for o in earliest.values())
    committed = admin.list_offsets(topic, isolation_level="read_committed")
    assert {tp: o.offset for tp, o in committed.items()} == \
        {tp: o.offset for tp, o in latest.items()}
    # The same high watermarks as librdkafka reads.
    probe = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "admin-wm"})
    try:
        for (t, p), listed in latest.items():
            low, high = probe.get_watermark_offsets(TopicPartition(t, p), timeout=10,
                                                    cached=False)
            assert (low, high) == (earliest[(t, p)].offset, listed.offset)
    finally:
        probe.close()
    # By timestamp: every record is newer than before_ms, none newer than the future.
    busy = max(written, key=written.get)
    by_time = admin.list_offsets({(topic, busy): OffsetSpec.for_timestamp(before_ms)})
    assert by_time[(topic, busy)].offset == 0 and by_time[(topic, busy)].timestamp >= before_ms
    future = admin.list_offsets([(topic, busy)], OffsetSpec.for_timestamp(before_ms + 10**9))
    assert future[(topic, busy)].offset == -1
    newest = admin.list_offsets([(topic, busy)], OffsetSpec.max_timestamp())[(topic, busy)]
    assert 0 <= newest.offset < written[busy] and newest.timestamp >= before_ms


def test_list_offsets_of_a_missing_partition_names_it(admin) -> None:
    topic = admin.create_topic(_name("nopart"), 2, 1).name
    with pytest.raises(UnknownTopicOrPartitionError, match=f"{topic}-5"):
        admin.list_offsets([(topic, 5)])


def test_wait_for_leaders(admin) -> None:
    topic = _name("leaders")
    admin.create_topics([NewTopic(topic, 6, 1)], wait=False)
    admin.wait_for_leaders([topic], timeout=60)
    partitions = admin.describe_topics(topic)[topic].partitions
    assert len(partitions) == 6 and all(p.leader == 1 for p in partitions)
    missing = _name("never")
    with pytest.raises(KafkaTimeoutError, match=missing):
        admin.wait_for_leaders([topic, missing], timeout=1.5)


def test_describe_cluster(kafka, admin) -> None:
    cluster = admin.describe_cluster()
    assert [b.node_id for b in cluster.brokers] == [1]
    assert f"{cluster.brokers[0].host}:{cluster.brokers[0].port}" == kafka.broker_address(1)
    assert cluster.controller_id == 1
    assert isinstance(cluster.cluster_id, str) and len(cluster.cluster_id) == 22


def test_closed_client_raises(kafka) -> None:
    client = AdminClient(bootstrap_servers=kafka.bootstrap_servers)
    assert client.describe_cluster().brokers
    client.close()
    client.close()
    with pytest.raises(IllegalStateError):
        client.list_topics()


def test_sasl_client_on_a_plaintext_listener_fails_fast(kafka) -> None:
    # Authentication errors end the call at once (retrying cannot help), typed.
    with AdminClient(bootstrap_servers=kafka.bootstrap_servers, security_protocol="SASL_PLAINTEXT",
                     sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p") as client:
        with pytest.raises(AuthenticationError, match="SaslHandshake"):
            client.describe_cluster(timeout=30)
