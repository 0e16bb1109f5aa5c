"""The network client walks its connections' timeouts only once one can be due
(NetworkClient._check_timeouts): request.timeout.ms, the idle close and the setup
timeout still fire on time, and the poll still wakes for them. A scripted broker
(real socket) and a manual clock make the deadlines exact."""
from __future__ import annotations

import pytest

from kprod._internals.connection import CLOSED, DISCONNECTED
from kprod._internals.metadata import Metadata
from kprod._internals.network import NetworkClient
from kprod._internals.protocol import types
from kprod.errors import KafkaTimeoutError

from ..fakes import ManualClock
from .support import FakePeer, free_port, settings
from .test_throttle_network import _connected, _poll_until

pytestmark = pytest.mark.timeout(60)


def _metadata_request(network, conn, answers):
    network.send(conn, "Metadata", types.MetadataRequest(
        topics=[], allow_auto_topic_creation=False,
        include_topic_authorized_operations=False),
        lambda body, error: answers.append((body, error)))


def test_a_request_times_out_at_request_timeout_ms():
    peer, clock = FakePeer(), ManualClock(5000.0)
    try:
        network, conn = _connected(peer, clock)
        network.poll(0, clock())                  # the walk is cached from here on
        answers: list = []
        sent_at = clock()
        _metadata_request(network, conn, answers)
        peer.read_request()                        # never answered
        clock.now = sent_at + 9999.0
        for response in network.poll(0, clock()):
            response.complete()
        assert not answers and conn.ready
        clock.now = sent_at + 10000.0              # request.timeout.ms (support.DEFAULTS)
        _poll_until(network, clock, lambda: answers)
        assert isinstance(answers[0][1], KafkaTimeoutError)
        assert conn.state == CLOSED
    finally:
        peer.close()


def test_the_poll_wakes_for_a_request_timeout():
    peer, clock = FakePeer(), ManualClock(5000.0)
    try:
        network, conn = _connected(peer, clock)
        network.poll(0, clock())
        _metadata_request(network, conn, [])
        peer.read_request()
        clock.advance(4000.0)
        # The poll's own wait is capped by the request's deadline, 6 s away.
        assert network._timeouts_wake_ms - clock() == pytest.approx(6000.0)
    finally:
        peer.close()


def test_an_idle_connection_closes_after_connections_max_idle_ms():
    peer, clock = FakePeer(), ManualClock(5000.0)
    try:
        network, conn = _connected(peer, clock)
        network.poll(0, clock())
        idle_since = conn.last_activity_ms
        clock.now = idle_since + 539999.0
        network.poll(0, clock())
        assert conn.ready
        clock.now = idle_since + 540000.0
        network.poll(0, clock())
        assert conn.state == DISCONNECTED       # closed as idle, no error
    finally:
        peer.close()


def test_a_connection_started_after_the_walk_gets_its_setup_timeout():
    clock = ManualClock(5000.0)
    network = NetworkClient(settings(), ["127.0.0.1:1"], Metadata(300000, 50, 300000),
                            clock)
    network.poll(0, clock())                     # nothing connecting: nothing due
    assert network._timeouts_due_ms == float("inf")
    [conn] = network.bootstrap
    conn.host, conn.port = "10.255.255.1", free_port()   # unroutable: stays connecting
    conn.connect(clock())
    if conn.state == CLOSED:
        pytest.skip("this host refuses unroutable connects at once")
    assert network._timeouts_due_ms == 0.0       # the state change asked for a walk
    clock.advance(5000.0)                        # socket.connection.setup.timeout.ms
    network.poll(0, clock())
    assert conn.state == CLOSED and isinstance(conn.last_error, KafkaTimeoutError)
    network.close()
