"""A metadata timeout names why each bootstrap broker could not be used, against real
sockets: a refused port, an unresolvable host, a peer that closes at once, a peer that
answers garbage; the last failure is chained as ``__cause__``."""
from __future__ import annotations

import re
import socket
import sys

import pytest

from kprod.errors import DnsLookupError, KafkaConnectionError, KafkaTimeoutError, ProtocolError
from kprod.producer import Producer

from .support import ListeningPeer as Peer, free_port

pytestmark = pytest.mark.timeout(60)


def _close_at_once(conn: socket.socket) -> None:
    conn.close()


def _answer_garbage(conn: socket.socket) -> None:
    conn.settimeout(2.0)
    try:
        conn.recv(4096)               # the client's ApiVersions request
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass


def _timeout_of(bootstrap: str) -> KafkaTimeoutError:
    producer = Producer(bootstrap_servers=bootstrap, max_block_ms=1500,
                        reconnect_backoff_ms=20, reconnect_backoff_max_ms=100)
    try:
        with pytest.raises(KafkaTimeoutError) as info:
            producer.send("t-causes", b"x")
        return info.value
    finally:
        producer.close(5)


def test_refused_port_is_named():
    port = free_port()
    error = _timeout_of(f"127.0.0.1:{port}")
    assert "Topic 't-causes' not present in metadata after 1500 ms" in str(error)
    assert f"127.0.0.1:{port} failed: connection refused" in str(error)
    assert isinstance(error.__cause__, KafkaConnectionError)
    assert "connection refused" in str(error.__cause__)


def test_dns_failure_is_named():
    error = _timeout_of("nonexistent.invalid:9092")
    assert "DNS lookup failed for broker host 'nonexistent.invalid'" in str(error)
    assert isinstance(error.__cause__, DnsLookupError)


def test_peer_closing_at_once_is_named():
    peer = Peer(_close_at_once)
    try:
        error = _timeout_of(f"127.0.0.1:{peer.port}")
    finally:
        peer.close()
    # A FIN, or a reset when the client's ApiVersions request was left unread.
    assert re.search(rf"127.0.0.1:{peer.port} closed the connection( \(reset by peer\))? "
                     r"during setup", str(error)), str(error)
    assert isinstance(error.__cause__, KafkaConnectionError)


def test_peer_answering_garbage_is_not_a_kafka_broker():
    peer = Peer(_answer_garbage)
    try:
        error = _timeout_of(f"127.0.0.1:{peer.port}")
    finally:
        peer.close()
    assert "not a Kafka broker" in str(error)
    assert isinstance(error.__cause__, ProtocolError)


def test_each_bootstrap_broker_has_its_own_cause():
    refused = free_port()
    peer = Peer(_answer_garbage)
    try:
        error = _timeout_of(f"127.0.0.1:{refused},127.0.0.1:{peer.port}")
    finally:
        peer.close()
    text = str(error)
    assert f"127.0.0.1:{refused} failed: connection refused" in text
    assert "not a Kafka broker" in text
    cause = error.__cause__
    if sys.version_info >= (3, 11):          # an ExceptionGroup of both failures
        assert isinstance(cause, ExceptionGroup)  # noqa: F821 (3.11+)
        assert {type(e) for e in cause.exceptions} == {KafkaConnectionError, ProtocolError}
    else:
        assert isinstance(cause, (KafkaConnectionError, ProtocolError))
