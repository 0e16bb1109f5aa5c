"""Bad peers and bad input: every failure ends in a typed KafkaError with a clear
message, the connection closed, in-flight handlers told, and no hang."""
from __future__ import annotations

import socketserver
import struct
import threading
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from kprod._internals import protocol as proto
from kprod._internals.protocol import types as T
from kprod._internals.connection import CLOSED, READY
from kprod.errors import (
    DnsLookupError, KafkaConnectionError, KafkaError, KafkaTimeoutError, ProtocolError,
    UnsupportedVersionError,
)

from .support import (
    Calls, FakePeer, Loop, api_versions_response, connect_to_peer, free_port, new_connection,
    now_ms,
)

pytestmark = pytest.mark.timeout(60)

METADATA_BODY = T.MetadataRequest(topics=[T.MetadataRequestTopic(name="t")],
                                  allow_auto_topic_creation=False)


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def peer():
    peer = FakePeer()
    yield peer
    peer.close()


def _start(loop, peer, **overrides):
    """Connect to ``peer`` and let the client write its ApiVersions request."""
    conn = new_connection(loop, "127.0.0.1", peer.port, **overrides)
    conn.connect(now_ms())
    peer.accept()
    loop.run_until(lambda: not conn.wants_write() or conn.last_error is not None, [conn])
    return conn


def _wait_failed(loop, conn, timeout_s=5.0):
    loop.run_until(lambda: conn.state == CLOSED, [conn], timeout_s)
    assert conn.sock is None
    return conn.last_error


def _metadata_response(correlation_id: int, version: int = 12) -> bytes:
    return proto.encode_response("Metadata", version, correlation_id, T.MetadataResponse(
        throttle_time_ms=0, cluster_id="c",
        brokers=[T.MetadataResponseBroker(node_id=1, host="127.0.0.1", port=9092, rack=None)],
        controller_id=1,
        topics=[T.MetadataResponseTopic(
            error_code=0, name="t", topic_id=uuid.UUID(int=7), is_internal=False,
            partitions=[T.MetadataResponsePartition(
                error_code=0, partition_index=0, leader_id=1, leader_epoch=0,
                replica_nodes=[1], isr_nodes=[1], offline_replicas=[])])]))


# ------------------------------------------------------------------ setup failures
def test_connection_refused(loop):
    port = free_port()
    conn = new_connection(loop, "127.0.0.1", port)
    t0 = time.monotonic()
    conn.connect(now_ms())
    err = _wait_failed(loop, conn)
    assert time.monotonic() - t0 < 2
    assert type(err) is KafkaConnectionError
    assert "connection refused" in str(err) and f"127.0.0.1:{port}" in str(err)
    assert err.retriable


def test_dns_failure_is_a_distinct_error(loop):
    conn = new_connection(loop, "no-such-host.invalid", 9092)
    conn.connect(now_ms())
    assert conn.state == CLOSED
    err = conn.last_error
    assert isinstance(err, DnsLookupError) and isinstance(err, KafkaConnectionError)
    assert "no-such-host.invalid" in str(err) and "resolve" in str(err)


class _HttpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        try:
            self.request.recv(65536)           # whatever arrives: answer like a web server
            body = b"<html>bad request</html>"
            self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                                 % (len(body), body))
        except OSError:
            pass


def test_http_server_is_not_a_kafka_broker(loop):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _HttpHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = new_connection(loop, "127.0.0.1", server.server_address[1])
        conn.connect(now_ms())
        err = _wait_failed(loop, conn)
    finally:
        server.shutdown()
        server.server_close()
    assert isinstance(err, ProtocolError)
    # "HTTP" read as a size prefix is 1213486160
    assert "1213486160" in str(err) and "not a Kafka broker" in str(err)


def test_silent_server_times_out_setup_mentioning_api_versions(loop, peer):
    conn = new_connection(loop, "127.0.0.1", peer.port,
                          socket_connection_setup_timeout_ms=300,
                          socket_connection_setup_timeout_max_ms=300)
    t0 = time.monotonic()
    conn.connect(now_ms())
    peer.accept()                                   # accept, read nothing, say nothing
    err = _wait_failed(loop, conn)
    elapsed = time.monotonic() - t0
    assert 0.2 <= elapsed < 2.0
    assert isinstance(err, KafkaTimeoutError)
    assert "ApiVersions" in str(err) and "timed out" in str(err)
    assert peer.is_closed_by_client()


def test_peer_closing_during_setup(loop, peer):
    conn = _start(loop, peer)
    peer.read_request()
    peer.sock.close()
    peer.sock = None
    err = _wait_failed(loop, conn)
    assert type(err) is KafkaConnectionError
    assert "closed the connection during setup" in str(err)


def test_broker_too_old_names_the_api(loop, peer):
    ranges = {k: r for k, r in ((0, (0, 2)), (3, (0, 12)), (18, (0, 4)))}
    conn = _start(loop, peer)
    peer.handshake(ranges)
    err = _wait_failed(loop, conn)
    assert isinstance(err, UnsupportedVersionError)
    assert "Produce" in str(err) and "0-2" in str(err) and "too old" in str(err)
    assert str(err).count("UNSUPPORTED_VERSION") == 1, str(err)


def test_api_versions_unsupported_version_retries_at_the_brokers_max(loop, peer):
    """KIP-511: an old broker answers UNSUPPORTED_VERSION (v0 body) with its range."""
    conn = _start(loop, peer)
    header, _ = peer.read_request()
    assert header.api_version == 4
    peer.send_frame(proto.encode_response("ApiVersions", 0, header.correlation_id,
                                          api_versions_response({18: (0, 2)}, error_code=35)))
    loop.run_until(lambda: conn.last_error is not None or (
        conn.in_flight and conn.in_flight[0].version == 2 and not conn.wants_write()), [conn])
    assert conn.last_error is None
    header2, _ = peer.read_request()
    assert header2.api_key == 18 and header2.api_version == 2
    peer.reply(header2, api_versions_response({0: (0, 9), 3: (0, 12), 18: (0, 2)}))
    loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn])
    assert conn.state == READY and conn.api_versions["Produce"] == 9


# ------------------------------------------------------------- failures when READY
def test_broker_stops_answering_mid_request(loop, peer):
    conn = connect_to_peer(loop, peer, request_timeout_ms=300)
    calls = Calls()
    t0 = time.monotonic()
    conn.send("Metadata", METADATA_BODY, calls.handler("meta"))
    header, _ = peer.read_request()                 # swallowed: never answered
    assert header.api_key == 3
    loop.run_until(lambda: len(calls) == 1, [conn], 5)
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 2.0
    _, response, err = calls.calls[0]
    assert response is None and isinstance(err, KafkaTimeoutError)
    assert "Metadata" in str(err) and "request.timeout.ms" in str(err)
    assert conn.state == CLOSED and conn.last_error is err
    assert peer.is_closed_by_client()


def _answer_metadata_with(loop, peer, payload_for):
    """READY connection; send Metadata; the peer answers ``payload_for(cid)`` (framed)."""
    conn = connect_to_peer(loop, peer, request_timeout_ms=2000)
    calls = Calls()
    conn.send("Metadata", METADATA_BODY, calls.handler())
    header, _ = peer.read_request()
    peer.send_raw(payload_for(header.correlation_id, header.api_version))
    loop.run_until(lambda: len(calls) == 1, [conn], 5)
    return conn, calls.calls[0]


def _framed(payload: bytes) -> bytes:
    return struct.pack(">i", len(payload)) + payload


@pytest.mark.parametrize("cut", [4, 5, 12, 30, -1])
def test_truncated_metadata_response(loop, peer, cut):
    def payload(cid, version):
        good = _metadata_response(cid, version)
        return _framed(good[:cut] if cut > 0 else good[:-1])
    conn, (_, response, err) = _answer_metadata_with(loop, peer, payload)
    assert response is None and isinstance(err, ProtocolError), err
    assert "Metadata" in str(err)
    assert conn.state == CLOSED and conn.last_error is err
    assert peer.is_closed_by_client()


def test_metadata_response_with_trailing_bytes(loop, peer):
    conn, (_, response, err) = _answer_metadata_with(
        loop, peer, lambda cid, v: _framed(_metadata_response(cid, v) + b"\0\0"))
    assert isinstance(err, ProtocolError) and "trailing" in str(err)
    assert conn.state == CLOSED


def test_metadata_response_with_a_huge_array_length(loop, peer):
    def payload(cid, version):
        good = bytearray(_metadata_response(cid, version))
        # v12 is flexible: header = cid(4) + tags(1); body: throttle(4), then the
        # brokers compact array length (uvarint): make it ~2**28.
        good[9:10] = b"\xff\xff\xff\x7f"
        return _framed(bytes(good))
    conn, (_, response, err) = _answer_metadata_with(loop, peer, payload)
    assert isinstance(err, ProtocolError), err
    assert conn.state == CLOSED


def test_negative_size_prefix(loop, peer):
    conn, (_, response, err) = _answer_metadata_with(
        loop, peer, lambda cid, v: struct.pack(">i", -5) + b"xxxx")
    assert isinstance(err, ProtocolError) and "Invalid response size -5" in str(err)
    assert conn.state == CLOSED


def test_correlation_id_mismatch(loop, peer):
    conn, (_, response, err) = _answer_metadata_with(
        loop, peer, lambda cid, v: _framed(_metadata_response(cid + 1, v)))
    assert isinstance(err, ProtocolError)
    assert "correlation id" in str(err) and "does not match" in str(err)
    assert conn.state == CLOSED and peer.is_closed_by_client()


def test_unsolicited_response_is_a_protocol_error(loop, peer):
    conn = connect_to_peer(loop, peer)
    peer.send_frame(_metadata_response(77))
    err = _wait_failed(loop, conn)
    assert isinstance(err, ProtocolError) and "nothing in flight" in str(err)


def test_protocol_error_during_handshake_counts_as_one_failure(loop, peer):
    """A corrupt ApiVersions answer closes once (one failure, first backoff step)."""
    conn = _start(loop, peer, reconnect_backoff_ms=1000, reconnect_backoff_max_ms=100000)
    notified = []
    inner = conn.on_state_change
    conn.on_state_change = lambda c: (notified.append(c.state), inner(c))
    header, _ = peer.read_request()
    peer.send_frame(struct.pack(">ih", header.correlation_id, 0) + b"\x01")  # truncated
    t = now_ms()
    err = _wait_failed(loop, conn)
    assert isinstance(err, ProtocolError)
    assert conn._failures == 1
    assert conn.next_attempt_ms - t <= 1200 + 50     # 1000 ms +20% jitter, not doubled
    assert notified.count(CLOSED) == 1


def test_pipelined_requests_all_fail_when_the_stream_breaks(loop, peer):
    conn = connect_to_peer(loop, peer)
    calls = Calls()
    for i in range(3):
        conn.send("Metadata", METADATA_BODY, calls.handler(i))
    headers = [peer.read_request()[0] for _ in range(3)]
    peer.send_frame(_metadata_response(headers[0].correlation_id))   # first: fine
    peer.send_frame(b"\x00\x00")                                        # then garbage
    loop.run_until(lambda: len(calls) == 3, [conn], 5)
    (t0, r0, e0), (t1, r1, e1), (t2, r2, e2) = calls.calls
    assert (t0, t1, t2) == (0, 1, 2)
    assert e0 is None and r0.topics[0].name == "t"
    assert isinstance(e1, ProtocolError) and e2 is e1
    assert conn.state == CLOSED


# ------------------------------------------------------------------------ fuzzing
@hsettings(max_examples=60, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                  HealthCheck.too_slow])
@given(garbage=st.one_of(
    st.binary(min_size=0, max_size=300),
    st.builds(lambda n, tail: struct.pack(">i", n) + tail,
              st.integers(-2**31, 2**31 - 1) | st.integers(0, 400),
              st.binary(max_size=300))))
def test_fuzzed_response_stream_only_typed_errors(garbage):
    loop = Loop()
    peer = FakePeer()
    try:
        conn = connect_to_peer(loop, peer, request_timeout_ms=150)
        calls = Calls()
        conn.send("Metadata", METADATA_BODY, calls.handler())
        peer.read_request()
        if garbage:
            peer.send_raw(garbage)
        t0 = time.monotonic()
        loop.run_until(lambda: len(calls) == 1, [conn], 5)
        assert time.monotonic() - t0 < 3
        _, response, err = calls.calls[0]
        if err is None:
            assert isinstance(response, dict)     # random bytes that decode fine
        else:
            assert isinstance(err, KafkaError) and str(err), repr(err)
            assert isinstance(err, (ProtocolError, KafkaTimeoutError)), repr(err)
            assert conn.state == CLOSED
    finally:
        peer.close()
        loop.close()


@pytest.mark.parametrize("how", ["setup timeout", "peer closes", "garbage size"])
def test_every_setup_failure_counts_once(loop, peer, how):
    """One failed setup = one failure: one CLOSED notification, first backoff step."""
    conn = _start(loop, peer, reconnect_backoff_ms=1000, reconnect_backoff_max_ms=100000,
                  socket_connection_setup_timeout_ms=200,
                  socket_connection_setup_timeout_max_ms=200)
    notified = []
    inner = conn.on_state_change
    conn.on_state_change = lambda c: (notified.append(c.state), inner(c))
    peer.read_request()
    if how == "peer closes":
        peer.sock.close()
        peer.sock = None
    elif how == "garbage size":
        peer.send_raw(b"\xff\xff\xff\xff")
    err = _wait_failed(loop, conn)
    assert isinstance(err, (KafkaTimeoutError, KafkaConnectionError, ProtocolError))
    assert conn._failures == 1, err
    assert notified == [CLOSED]
    assert conn.next_attempt_ms - conn.clock() <= 1200 + 50


def test_api_versions_unsupported_loop_is_bounded(loop, peer):
    """A broker answering UNSUPPORTED_VERSION while listing our version as supported
    must not make the client retry forever."""
    conn = _start(loop, peer)
    for _ in range(3):
        try:
            header, _ = peer.read_request()
        except (EOFError, OSError):
            break
        peer.send_frame(proto.encode_response("ApiVersions", 0, header.correlation_id,
                                              api_versions_response({18: (0, 4)}, error_code=35)))
        cid = header.correlation_id
        loop.run_until(lambda cid=cid: conn.state == CLOSED or (
            conn.in_flight and conn.in_flight[0].correlation_id != cid
            and not conn.wants_write()), [conn])
        if conn.state == CLOSED:
            break
    err = _wait_failed(loop, conn)
    assert isinstance(err, UnsupportedVersionError) and "ApiVersions" in str(err)


@hsettings(max_examples=40, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_handshake_answer_only_typed_errors(data):
    """Random or mutated ApiVersions answers: READY or a typed error, never a hang."""
    loop = Loop()
    peer = FakePeer()
    try:
        conn = _start(loop, peer, socket_connection_setup_timeout_ms=300,
                      socket_connection_setup_timeout_max_ms=300)
        header, _ = peer.read_request()
        good = bytearray(proto.encode_response(
            "ApiVersions", header.api_version, header.correlation_id,
            api_versions_response({k: (0, 12) for k in (0, 3, 18)})))
        if data.draw(st.booleans(), label="mutate"):
            for _ in range(data.draw(st.integers(1, 4), label="flips")):
                i = data.draw(st.integers(0, len(good) - 1), label="index")
                good[i] = data.draw(st.integers(0, 255), label="byte")
            payload = struct.pack(">i", len(good)) + bytes(good)
        else:
            payload = data.draw(st.binary(max_size=200), label="raw")
        if payload:
            peer.send_raw(payload)
        t0 = time.monotonic()
        loop.run_until(lambda: conn.state in (READY, CLOSED), [conn], 5)
        assert time.monotonic() - t0 < 3
        if conn.state == CLOSED:
            err = conn.last_error
            assert isinstance(err, KafkaError) and str(err), repr(err)
            assert conn._failures == 1
    finally:
        peer.close()
        loop.close()


def test_an_api_without_common_version_fails_only_when_used(loop, peer):
    """EndTxn only at v7-9 (kprod: 0-5) and no InitProducerId: the connection is
    still usable for Produce/Metadata; using EndTxn raises a typed error naming it."""
    ranges = {0: (3, 12), 3: (0, 12), 18: (0, 4), 26: (7, 9)}
    conn = connect_to_peer(loop, peer, ranges=ranges)
    assert conn.state == READY and conn.api_versions["Produce"] == 12
    assert "EndTxn" not in conn.api_versions
    with pytest.raises(UnsupportedVersionError, match=r"EndTxn.*0-5.*7-9"):
        conn.send("EndTxn", {}, lambda r, e: None)
    with pytest.raises(UnsupportedVersionError, match=r"InitProducerId.*broker: none"):
        conn.send("InitProducerId", {}, lambda r, e: None)
    assert conn.state == READY and not conn.in_flight
