"""pytest plugin: a real local Kafka (KRaft, from :mod:`kprod.testing`) for your tests.

Installed with kprod (the ``pytest11`` entry point ``kprod``), so the fixtures are there
in every pytest run; ``-p no:kprod`` switches the plugin off. Fixtures:

* ``kafka_cluster``   (session) a started :class:`kprod.testing.KafkaCluster`: one broker,
  or ``--kafka-brokers N``; Kafka ``--kafka-version V`` (default: kprod.testing's pinned
  version or ``$KPROD_KAFKA_VERSION``). Started on first use, stopped at the end.
* ``kafka_bootstrap`` (session) its bootstrap servers, ``"127.0.0.1:port,..."``.
* ``kafka_topic``     (per test) a fresh topic with 6 partitions (replication factor
  ``min(brokers, 3)``, as the cluster's defaults), deleted after the test.

Needs a JDK (17+) and Maven on PATH the first time (the jars are cached in
``~/.cache/kprod``). Importing this module starts nothing and installs no handlers.
"""
from __future__ import annotations

import itertools
import re
import uuid
from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from kprod.testing import KafkaCluster

TOPIC_PARTITIONS = 6
_topic_numbers = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kprod", "kprod: a local Kafka for tests")
    group.addoption("--kafka-brokers", type=int, default=1, metavar="N",
                    help="brokers of the kafka_cluster fixture (default 1)")
    group.addoption("--kafka-version", default=None, metavar="V",
                    help="Kafka version of the kafka_cluster fixture (default: "
                         "kprod.testing's pinned version or $KPROD_KAFKA_VERSION)")


def pytest_configure(config: pytest.Config) -> None:
    brokers = config.getoption("--kafka-brokers")
    if brokers < 1:
        raise pytest.UsageError(f"--kafka-brokers must be >= 1, got {brokers}")


@pytest.fixture(scope="session")
def kafka_cluster(pytestconfig: pytest.Config) -> Iterator["KafkaCluster"]:
    """A local Kafka cluster for the whole session (``--kafka-brokers``, ``--kafka-version``)."""
    from kprod.testing import KafkaCluster

    cluster = KafkaCluster(brokers=pytestconfig.getoption("--kafka-brokers"),
                           version=pytestconfig.getoption("--kafka-version"))
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_cluster: "KafkaCluster") -> str:
    """The cluster's bootstrap servers, for ``bootstrap.servers``."""
    return kafka_cluster.bootstrap_servers


@pytest.fixture
def kafka_topic(kafka_cluster: "KafkaCluster", request: pytest.FixtureRequest) -> Iterator[str]:
    """A new topic (6 partitions, every leader serving) for this test; deleted afterwards."""
    from kprod.admin import AdminClient
    from kprod.errors import UnknownTopicOrPartitionError

    base = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[:180]
    name = f"{base}-{next(_topic_numbers)}-{uuid.uuid4().hex[:8]}"
    replication = min(len(kafka_cluster.broker_ids), 3)
    kafka_cluster.create_topic(name, TOPIC_PARTITIONS, replication)
    yield name
    with AdminClient({"bootstrap.servers": kafka_cluster.bootstrap_servers}) as admin:
        try:
            admin.delete_topics([name], timeout=30)
        except UnknownTopicOrPartitionError:
            pass        # the test deleted it itself
