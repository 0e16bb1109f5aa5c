"""metadata.recovery.strategy (KIP-899) and metadata.recovery.rebootstrap.trigger.ms
(KIP-1102) in the network client, with real sockets: the bootstrap server is a listening
socket that counts the connections it gets."""
from __future__ import annotations

import time

import pytest

from kprod._internals.metadata import Metadata
from kprod._internals.network import NetworkClient
from kprod._internals.protocol import types

from .support import ListeningPeer, free_port, now_ms, settings

pytestmark = pytest.mark.timeout(60)


def _silent(conn) -> None:
    """Accept and never answer."""


def _drive(strategy: str, broker_port: int, bootstrap_port: int, seconds: float,
           **overrides) -> NetworkClient:
    md = Metadata(300000, 50, 300000)
    md.update(types.MetadataResponse(
        brokers=[types.MetadataResponseBroker(node_id=1, host="127.0.0.1", port=broker_port)],
        cluster_id="c", controller_id=1, topics=[]), now_ms())
    network = NetworkClient(settings(metadata_recovery_strategy=strategy, **overrides),
                            [f"127.0.0.1:{bootstrap_port}"], md, now_ms)
    network.connection(1)              # the broker the (old) metadata names
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            md.request_update()        # metadata is wanted all along
            now = now_ms()
            wait = network.maybe_update_metadata(now, lambda: ["t"])
            for response in network.poll(min(wait, 20.0), now):
                response.complete()
    finally:
        network.close()
    return network


@pytest.mark.parametrize("strategy", ["rebootstrap", "none"])
def test_every_known_broker_failing_rebootstraps_only_when_asked(strategy):
    bootstrap = ListeningPeer(_silent)
    try:
        network = _drive(strategy, free_port(), bootstrap.port, 1.5,
                         reconnect_backoff_ms=20, reconnect_backoff_max_ms=50)
    finally:
        bootstrap.close()
    assert "connection refused" in str(network.last_failures[1][1])
    if strategy == "rebootstrap":
        assert len(bootstrap.connections) >= 1
    else:
        assert bootstrap.connections == []


@pytest.mark.parametrize("trigger_ms, expect_rebootstrap", [(300, True), (300000, False)])
def test_metadata_wanted_too_long_rebootstraps(trigger_ms, expect_rebootstrap):
    # The known broker accepts but never answers: its connection is never CLOSED within
    # the test (setup timeout 5 s), so only the KIP-1102 trigger can rebootstrap.
    broker, bootstrap = ListeningPeer(_silent), ListeningPeer(_silent)
    try:
        _drive("rebootstrap", broker.port, bootstrap.port, 1.5,
               metadata_recovery_rebootstrap_trigger_ms=trigger_ms)
    finally:
        broker.close()
        bootstrap.close()
    assert len(broker.connections) == 1
    assert (len(bootstrap.connections) >= 1) == expect_rebootstrap
