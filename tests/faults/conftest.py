"""Fixtures of the network-fault tests: the session's 3-node cluster has a Toxiproxy
proxy in front of every broker (tests/conftest.py); ``proxies`` hands them over healed
and heals them again afterwards."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from kprod.testing.toxiproxy import BrokerProxies


@pytest.fixture
def proxies(three_brokers) -> Iterator[BrokerProxies]:
    assert three_brokers.proxies is not None, "three_brokers must be started with toxiproxy"
    three_brokers.proxies.heal()
    yield three_brokers.proxies
    three_brokers.proxies.heal()


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Long forms (marker ``soak``) run only when asked for: ``-m soak`` (make soak,
    make faults-long)."""
    if "soak" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(
        reason="long form: select it with -m soak (make soak, make faults-long)")
    for item in items:
        if item.get_closest_marker("soak") is not None:
            item.add_marker(skip)
