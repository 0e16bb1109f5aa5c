"""Shared fixtures: real local Kafka clusters from :mod:`kprod.testing`.

* ``kafka``         – session-wide single broker (started on first use)
* ``three_brokers`` – session-wide 3-node cluster (RF=3, min.insync.replicas=2), lazy
* ``make_topic``    – factory: ``make_topic(partitions=1, replication_factor=1, configs=None,
                      cluster=None) -> name`` (unique name; ``cluster`` defaults to ``kafka``)
* ``topic``         – one fresh single-partition topic on ``kafka``

Tests using these get the ``kafka`` marker automatically (``cluster`` for the 3-node one),
so ``-m "not kafka"`` runs without Java/Maven. The kprod pytest plugin's fixtures
(``kafka_cluster``, ``kafka_bootstrap``, ``kafka_topic``) are for users' projects: a test
here that asks for one is a usage error.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Iterator, List, Mapping

import pytest

from kprod.producer import Producer
from kprod.testing import KafkaCluster

_KAFKA_FIXTURES = {"kafka", "three_brokers", "make_topic", "topic"}
# kprod.pytest_plugin's (loaded in every run once kprod is installed); tests/testing/
# test_pytest_plugin.py tests them in a project of its own.
_PLUGIN_FIXTURES = {"kafka_cluster", "kafka_bootstrap", "kafka_topic"}
_topic_counter = itertools.count(1)


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    """A single KRaft broker for the whole test session."""
    with KafkaCluster(brokers=1) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def three_brokers() -> Iterator[KafkaCluster]:
    """Three combined broker+controller nodes for the whole session.

    Tests that stop/kill/pause nodes must bring them back before returning. Toxiproxy
    sits in front of every broker's PROXIED listener (tests/faults: network faults);
    the others use the direct listeners.
    """
    with KafkaCluster(brokers=3, toxiproxy=True) as cluster:
        yield cluster


@pytest.fixture
def make_topic(request: pytest.FixtureRequest) -> Callable[..., str]:
    """Factory creating uniquely named topics and waiting until they're usable."""
    base = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:150]

    def _make(partitions: int = 1, replication_factor: int = 1,
              configs: Mapping[str, Any] | None = None,
              cluster: KafkaCluster | None = None) -> str:
        cluster = cluster or request.getfixturevalue("kafka")
        name = f"{base}-{next(_topic_counter)}"
        return cluster.create_topic(name, partitions, replication_factor, configs)

    return _make


@pytest.fixture
def topic(make_topic: Callable[..., str]) -> str:
    """A fresh single-partition topic on the ``kafka`` broker."""
    return make_topic()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        plugin = sorted(names & _PLUGIN_FIXTURES)
        if plugin:   # a second broker per session, and kafka_cluster is 1 node, not 3
            raise pytest.UsageError(
                f"{item.nodeid} uses {plugin}, the kprod pytest plugin's fixtures (for "
                f"users' projects); kprod's tests use kafka (1 broker), three_brokers "
                f"(3 nodes), make_topic and topic from tests/conftest.py")
        if names & _KAFKA_FIXTURES:
            item.add_marker(pytest.mark.kafka)
        if "three_brokers" in names:
            item.add_marker(pytest.mark.cluster)


@pytest.fixture
def bootstrap(kafka) -> str:
    return kafka.bootstrap_servers


@pytest.fixture
def make_producer(kafka) -> Iterator[Callable[..., Producer]]:
    """``make_producer(config=None, **settings)``: a Producer on the test broker, closed
    at teardown."""
    made: List[Producer] = []

    def _make(config: Any = None, **kwargs: Any) -> Producer:
        cfg = {"bootstrap.servers": kafka.bootstrap_servers}
        cfg.update(config or {})
        p = Producer(cfg, **kwargs)
        made.append(p)
        return p

    yield _make
    for p in made:
        p.close(10)
