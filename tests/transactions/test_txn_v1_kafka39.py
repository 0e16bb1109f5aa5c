"""The transaction tests again on a Kafka 3.9 cluster: no finalized transaction.version,
so the V1 flow runs (AddPartitionsToTxn before a partition's first batch, KIP-98) where
the 4.1 cluster of the other modules runs V2 (KIP-890 part 2: implicit adds).

The scenarios are imported from the other modules; the ``kafka`` fixture is overridden
here with a 3-node 3.9.1 cluster, so ``make_topic`` creates their topics there too."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from kprod.producer import Producer
from kprod.testing import KafkaCluster

from .support import read_committed
from .test_txn_basics import test_commit_is_visible_abort_is_not  # noqa: F401
from .test_txn_broker_failure import transactions_under_broker_kills
from .test_txn_scenarios import (  # noqa: F401
    test_send_offsets_commits_group_offsets_atomically,
    test_zombie_is_fenced_and_its_transaction_never_visible,
)

pytestmark = [pytest.mark.slow, pytest.mark.kafka, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def kafka39() -> Iterator[KafkaCluster]:
    with KafkaCluster(brokers=3, version="3.9.1") as cluster:
        yield cluster


@pytest.fixture
def kafka(kafka39: KafkaCluster) -> KafkaCluster:
    return kafka39


def test_v1_flow_adds_partitions_explicitly(kafka39, make_topic):
    topic = make_topic(partitions=3)
    bs = kafka39.bootstrap_servers
    sent = []
    p = Producer({"bootstrap.servers": bs, "transactional.id": f"v1-{uuid.uuid4().hex}",
                  "linger.ms": 5, "max.block.ms": 30000})
    try:
        p.init_transactions(30)
        conn = next(c for c in p._sender.network.connections.values() if c.ready)
        assert conn.finalized_features.get("transaction.version", 0) < 2
        assert conn.api_versions["Produce"] <= 11          # Produce v12 came with 4.0
        original = conn.__class__.send

        def spy(self, api, *args, **kwargs):
            sent.append(api)
            return original(self, api, *args, **kwargs)

        conn.__class__.send = spy
        try:
            for n in range(3):
                p.begin_transaction()
                for i in range(30):
                    p.send(topic, b"%d:%d" % (n, i), key=b"k%d" % (i % 7))
                p.commit_transaction(30)
        finally:
            conn.__class__.send = original
        assert not p._txn.implicit_add
    finally:
        p.close(10)
    # Every transaction added its partitions before producing (a V1 coordinator
    # rejects a Produce to a partition it was not told about).
    assert sent.count("AddPartitionsToTxn") >= 3, sent
    assert sent.count("EndTxn") == 3, sent
    values = [r[4] for r in read_committed(bs, [topic])]
    assert sorted(values) == sorted(b"%d:%d" % (n, i) for n in range(3) for i in range(30))


def test_v1_transactions_survive_coordinator_and_leader_kills(kafka39, make_topic):
    p = transactions_under_broker_kills(kafka39, make_topic)
    assert not p._txn.implicit_add, "expected the V1 flow on a 3.9 cluster"
