"""KIP-219 in the real network client: a scripted broker (real socket) answers with
throttle_time_ms; the client's clock is manual, so the throttle's end is exact."""
from __future__ import annotations

import pytest

from kprod._internals import protocol as proto
from kprod._internals.metadata import Metadata
from kprod._internals.network import NetworkClient
from kprod._internals.protocol import types

from ..fakes import ManualClock
from .support import SUPPORTED, FakePeer, api_versions_response, settings

pytestmark = pytest.mark.timeout(60)


def _connected(peer: FakePeer, clock: ManualClock, metadata_versions=None):
    network = NetworkClient(settings(), [f"127.0.0.1:{peer.port}"],
                            Metadata(300000, 50, 300000), clock)
    assert network.least_loaded(clock()) is None       # starts connecting
    peer.accept()
    [conn] = network.bootstrap
    ranges = {proto.BY_NAME[api].key: r for api, r in SUPPORTED.items()}
    if metadata_versions is not None:
        ranges[proto.BY_NAME["Metadata"].key] = metadata_versions
    _poll_until(network, clock, lambda: not conn.wants_write())
    peer.handshake(ranges)
    _poll_until(network, clock, lambda: conn.ready)
    return network, conn


def _poll_until(network: NetworkClient, clock: ManualClock, condition) -> list:
    done = []
    for _ in range(500):
        if condition():
            return done
        for response in network.poll(10.0, clock()):
            response.complete()
            done.append(response)
    raise AssertionError("condition not met")


def _metadata_answered(network, conn, peer, clock, throttle_ms: int) -> int:
    answers = []
    network.send(conn, "Metadata", types.MetadataRequest(
        topics=[], allow_auto_topic_creation=False,
        include_topic_authorized_operations=False),
        lambda body, error: answers.append((body, error)))
    header, _ = peer.read_request()
    peer.reply(header, types.MetadataResponse(
        throttle_time_ms=throttle_ms, brokers=[], cluster_id="c", controller_id=-1,
        topics=[]))
    _poll_until(network, clock, lambda: answers)
    assert answers[0][1] is None and answers[0][0].throttle_time_ms == throttle_ms
    return header.api_version


def test_a_throttling_answer_makes_the_broker_not_ready_until_it_ends():
    peer, clock = FakePeer(), ManualClock(5000.0)
    network, conn = _connected(peer, clock)
    try:
        version = _metadata_answered(network, conn, peer, clock, throttle_ms=400)
        assert version >= 6
        now = clock()
        assert conn.ready and conn.can_send_more()     # the connection itself is fine
        assert not network.ready(conn, now) and not network.can_send(conn, now)
        assert network.least_loaded(now) is None       # not chosen for metadata either
        assert network.poll_delay_ms(conn, now) == pytest.approx(400)
        clock.advance(399)
        assert not network.ready(conn, clock())
        clock.advance(1)
        assert network.ready(conn, clock()) and network.can_send(conn, clock())
        assert network.least_loaded(clock()) is conn
    finally:
        network.close()
        peer.close()


def test_an_old_version_answer_does_not_pause_the_client():
    # Metadata v5 and below: the broker delayed its answer itself (KIP-219).
    peer, clock = FakePeer(), ManualClock(5000.0)
    network, conn = _connected(peer, clock, metadata_versions=(4, 5))
    try:
        assert _metadata_answered(network, conn, peer, clock, throttle_ms=400) == 5
        assert network.ready(conn, clock()) and network.least_loaded(clock()) is conn
    finally:
        network.close()
        peer.close()


def test_a_throttling_api_versions_answer_counts_too():
    # ApiVersions v2+ (KIP-219): the connection's own setup exchange may throttle it.
    peer, clock = FakePeer(), ManualClock(5000.0)
    network = NetworkClient(settings(), [f"127.0.0.1:{peer.port}"],
                            Metadata(300000, 50, 300000), clock)
    try:
        network.least_loaded(clock())
        peer.accept()
        [conn] = network.bootstrap
        _poll_until(network, clock, lambda: not conn.wants_write())
        header, _ = peer.read_request()
        assert header.api_key == proto.BY_NAME["ApiVersions"].key and header.api_version >= 2
        ranges = {proto.BY_NAME[api].key: r for api, r in SUPPORTED.items()}
        answer = api_versions_response(ranges)
        answer.throttle_time_ms = 250
        peer.reply(header, answer)
        _poll_until(network, clock, lambda: conn.ready)
        assert not network.ready(conn, clock()) and network.least_loaded(clock()) is None
        assert network.poll_delay_ms(conn, clock()) == pytest.approx(250)
        clock.advance(250)
        assert network.ready(conn, clock()) and network.least_loaded(clock()) is conn
    finally:
        network.close()
        peer.close()
