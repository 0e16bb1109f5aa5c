"""BrokerConnection units with a fake clock / fake socket: reconnect backoff,
setup timeouts, address rotation and re-resolution, zero-copy scatter-gather
writes, partial writes."""
from __future__ import annotations

import random
import socket

import pytest

from kprod._internals import protocol as proto
from kprod._internals.protocol import types as T
from kprod._internals.connection import (
    CLOSED, CONNECTING, READY, BrokerConnection, exponential,
)
from kprod._internals.network import CLIENT_VERSIONS as SUPPORTED
from kprod.errors import KafkaConnectionError, KafkaTimeoutError

from .support import (
    FakePeer, Loop, build_batch, free_port, new_connection, produce_body, sample_records,
    settings,
)

from ..fakes import ManualClock

pytestmark = pytest.mark.timeout(60)


# ------------------------------------------------------------------ reconnect backoff
def test_exponential_helper_jitter_and_cap():
    rng = random.Random(7)
    for attempts in range(12):
        values = [exponential(50, attempts, 1000, rng) for _ in range(200)]
        term = 50 * 2 ** attempts
        assert all(min(0.8 * term, 1000) <= v <= min(1.2 * term, 1000) for v in values)
        if 1.2 * term < 1000:
            assert len(set(values)) > 100            # jittered, not constant
        if 0.8 * term >= 1000:
            assert set(values) == {1000}


def test_reconnect_backoff_grows_exponentially_with_jitter_and_is_capped():
    port = free_port()
    clock = ManualClock(1_000_000.0)
    ratios = []
    for seed in range(5):
        conn = BrokerConnection(1, "127.0.0.1", port,
                                settings(reconnect_backoff_ms=50, reconnect_backoff_max_ms=1000),
                                clock, SUPPORTED)
        conn._rng = random.Random(seed)
        loop = Loop()
        loop.attach(conn)
        waits = []
        try:
            for _attempt in range(9):
                assert conn.can_connect(clock.now)
                conn.connect(clock.now)
                loop.run_until(lambda conn=conn: conn.state == CLOSED, [conn], 5)
                assert isinstance(conn.last_error, KafkaConnectionError)
                assert "connection refused" in str(conn.last_error)
                wait = conn.next_attempt_ms - clock.now
                waits.append(wait)
                assert not conn.can_connect(clock.now)
                assert not conn.can_connect(clock.now + wait - 1)
                clock.now += wait
        finally:
            loop.close()
        for k, wait in enumerate(waits):
            term = 50 * 2 ** k
            assert min(0.8 * term, 1000) <= wait <= min(1.2 * term, 1000), (k, waits)
        assert waits[-1] == 1000 and max(waits) == 1000
        ratios.append(tuple(round(w / (50 * 2 ** k), 3) for k, w in enumerate(waits[:4])))
    assert len(set(ratios)) == 5                      # the jitter differs between runs


def test_backoff_resets_after_a_successful_connection():
    peer = FakePeer()
    loop = Loop()
    try:
        conn = new_connection(loop, "127.0.0.1", peer.port, reconnect_backoff_ms=1000,
                              reconnect_backoff_max_ms=100000)
        conn._failures = 6                            # as if it had failed a lot before
        conn.connect(conn.clock())
        peer.accept()
        loop.run_until(lambda: not conn.wants_write(), [conn])
        peer.handshake()
        loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn])
        assert conn.state == READY
        conn.close(KafkaConnectionError("boom"))      # lost after READY: one failure
        assert conn.state == CLOSED
    finally:
        peer.close()
        loop.close()
    # READY reset the failure count, so this is the first step again (1000 ms +-20%).
    wait = conn.next_attempt_ms - conn.clock()
    assert 700 <= wait <= 1200


def test_setup_timeout_grows_and_message_reports_the_real_elapsed_time():
    peer = FakePeer()
    clock = ManualClock(1_000_000.0)
    conn = BrokerConnection(1, "127.0.0.1", peer.port,
                            settings(socket_connection_setup_timeout_ms=1000,
                                     socket_connection_setup_timeout_max_ms=30000),
                            clock, SUPPORTED)
    conn._rng = random.Random(1)
    try:
        timeouts = []
        for _attempt in range(3):
            clock.now = max(clock.now, conn.next_attempt_ms)
            conn.connect(clock.now)
            assert conn.state == CONNECTING
            timeout = conn.setup_deadline - clock.now
            timeouts.append(timeout)
            clock.now += timeout - 1
            conn.check_timeouts(clock.now)
            assert conn.state == CONNECTING
            clock.now += 1
            conn.check_timeouts(clock.now)
            assert conn.state == CLOSED
            err = conn.last_error
            assert isinstance(err, KafkaTimeoutError)
            assert f"timed out after {timeout:.0f} ms" in str(err), (str(err), timeout)
        assert 800 <= timeouts[0] <= 1200
        assert 1600 <= timeouts[1] <= 2400
        assert 3200 <= timeouts[2] <= 4800
    finally:
        peer.close()


# --------------------------------------------------------- addresses and resolution
def _gai(port):
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]


def test_dns_is_re_resolved_after_the_resolved_addresses_failed(monkeypatch):
    """A broker whose address changes (e.g. a restarted pod) must be found again."""
    peer = FakePeer()
    stale = free_port()
    answers = {"broker.test": _gai(stale)}
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return answers[host]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    loop = Loop()
    conn = BrokerConnection(1, "broker.test", 9092,
                            settings(reconnect_backoff_ms=1, reconnect_backoff_max_ms=2),
                            lambda: __import__("time").monotonic() * 1000, SUPPORTED)
    loop.attach(conn)
    try:
        conn.connect(conn.clock())
        loop.run_until(lambda: conn.state == CLOSED, [conn], 5)
        assert "connection refused" in str(conn.last_error)
        answers["broker.test"] = _gai(peer.port)       # DNS now points at the live broker
        loop.run_until(lambda: conn.can_connect(conn.clock()), [conn], 5)
        conn.connect(conn.clock())
        loop.run_until(lambda: conn.state != CONNECTING, [conn], 5)
        assert conn.last_error is None, conn.last_error
        assert conn.sock is not None and conn.sock.getpeername()[1] == peer.port
    finally:
        conn.close(None)
        peer.close()
        loop.close()


def test_all_resolved_addresses_are_tried(monkeypatch):
    """use_all_dns_ips: after a failure on the first address the next one is used."""
    peer = FakePeer()
    dead = free_port()
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, port, *a, **k: _gai(dead) + _gai(peer.port))
    loop = Loop()
    conn = BrokerConnection(1, "broker.test", 9092,
                            settings(reconnect_backoff_ms=1, reconnect_backoff_max_ms=2),
                            lambda: __import__("time").monotonic() * 1000, SUPPORTED)
    loop.attach(conn)
    try:
        conn.connect(conn.clock())
        loop.run_until(lambda: conn.state == CLOSED, [conn], 5)
        loop.run_until(lambda: conn.can_connect(conn.clock()), [conn], 5)
        conn.connect(conn.clock())
        peer.accept()
        loop.run_until(lambda: not conn.wants_write() or conn.last_error is not None,
                       [conn], 5)
        peer.handshake()
        loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn], 5)
        assert conn.state == READY, conn.last_error
    finally:
        conn.close(None)
        peer.close()
        loop.close()


# ------------------------------------------------------------------------ zero-copy
class RecordingSocket:
    """Stands in for the socket: records what sendmsg gets, accepts ``limit`` bytes a call."""

    def __init__(self, limit=None):
        self.calls = []
        self.written = bytearray()
        self.limit = limit

    def sendmsg(self, buffers):
        buffers = list(buffers)
        self.calls.append(buffers)
        data = b"".join(bytes(b) for b in buffers)
        n = len(data) if self.limit is None else min(self.limit, len(data))
        self.written += data[:n]
        return n

    def close(self):
        pass

    def fileno(self):
        return -1


def _ready_with_fake_socket(sock):
    conn = BrokerConnection(1, "fake", 9092, settings(), ManualClock(1_000_000.0), SUPPORTED)
    conn.sock = sock
    conn.state = READY
    conn.api_versions = {"Produce": 9, "Metadata": 12}
    return conn


def test_produce_batch_is_written_from_its_own_memoryview():
    sock = RecordingSocket()
    conn = _ready_with_fake_socket(sock)
    builder, batch = build_batch(sample_records(20, 1), 0)
    conn.send("Produce", produce_body("t", 0, batch, -1), lambda r, e: None)
    [buffers] = sock.calls
    same = [b for b in buffers if b is batch]
    assert len(same) == 1                               # the very object, not a copy
    # ...and it still aliases the pooled buffer: a write there shows through.
    original = bytes(batch)
    memoryview(builder.buffer)[70] ^= 0xFF
    assert bytes(same[0])[70] == original[70] ^ 0xFF
    expected, _ = proto.encode_request("Produce", 9, conn.in_flight[0].correlation_id,
                                       conn.settings.client_id,
                                       produce_body("t", 0, original, -1))
    assert bytes(sock.written) == b"".join(bytes(c) for c in expected)


def test_zero_copy_in_pending_output_before_flush():
    class Blocked(RecordingSocket):
        def sendmsg(self, buffers):
            raise BlockingIOError
    conn = _ready_with_fake_socket(Blocked())
    _, batch = build_batch(sample_records(5, 2), 3)
    request = conn.send("Produce", produce_body("t", 0, batch, 1), lambda r, e: None)
    assert any(v is batch for v in conn._out)
    assert not request.fully_written and not conn.can_send_more() and conn.wants_write()


def test_partial_writes_resume_exactly_and_stay_views():
    sock = RecordingSocket(limit=7)
    conn = _ready_with_fake_socket(sock)
    _, batch = build_batch(sample_records(30, 3), 0)
    done = []
    r1 = conn.send("Produce", produce_body("t", 0, batch, 0), lambda r, e: done.append((r, e)),
                   expect_response=False)
    r2 = conn.send("Metadata", T.MetadataRequest(topics=None), lambda r, e: None)
    while conn._out:
        assert all(isinstance(v, memoryview) for v in conn._out)
        conn.on_writable(0)
    e1, _ = proto.encode_request("Produce", 9, r1.correlation_id, conn.settings.client_id,
                                 produce_body("t", 0, bytes(batch), 0))
    e2, _ = proto.encode_request("Metadata", 12, r2.correlation_id, conn.settings.client_id,
                                 T.MetadataRequest(topics=None))
    assert bytes(sock.written) == b"".join(bytes(c) for c in e1 + e2)
    assert max(sum(len(b) for b in call) for call in sock.calls) > 7
    # acks=0 completes once written; the Metadata request stays in flight
    assert done == [(None, None)] and list(conn.in_flight) == [r2] and r2.fully_written


def test_handler_opening_a_connection_on_failure_keeps_its_selector_registration():
    """close() frees the fd; a failure handler that connects elsewhere may reuse the
    same fd number. The closing connection's state notification must not
    unregister the new connection's socket."""
    peer_a, peer_b = FakePeer(), FakePeer()
    loop = Loop()
    try:
        from .support import connect_to_peer
        a = connect_to_peer(loop, peer_a)
        b = new_connection(loop, "127.0.0.1", peer_b.port)
        old_fd = a.sock.fileno()

        def on_failure(response, error):
            if error is not None:
                b.connect(b.clock())        # e.g. the sender retrying on another broker

        a.send("Metadata", T.MetadataRequest(topics=None), on_failure)
        a.close(KafkaConnectionError("lost"))
        assert b.sock is not None and b.sock.fileno() == old_fd    # the fd was reused
        assert loop.selector.registered(b.sock.fileno()) is b
        peer_b.accept()
        loop.run_until(lambda: not b.wants_write() or b.last_error is not None, [a, b], 5)
        peer_b.handshake()
        loop.run_until(lambda: b.state == READY or b.last_error is not None, [a, b], 5)
        assert b.state == READY, b.last_error
    finally:
        peer_a.close()
        peer_b.close()
        loop.close()
