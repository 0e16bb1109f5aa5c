"""Helpers for driving one ``BrokerConnection`` by hand, fake brokers, and an
independent read-back through confluent-kafka (librdkafka)."""
from __future__ import annotations

import socket
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from kprod._internals import protocol as proto
from kprod._internals.protocol import types as T
from kprod._internals.protocol.structs import Struct
from kprod._internals.connection import BrokerConnection, ConnectionSettings, READY
from kprod._internals.selector import ConnectionSelector
from kprod._internals.network import CLIENT_VERSIONS as SUPPORTED

DEFAULTS = {
    "client.id": "kprod-conn-test",
    "request.timeout.ms": 10000,
    "socket.connection.setup.timeout.ms": 5000,
    "socket.connection.setup.timeout.max.ms": 5000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 1000,
    "max.in.flight.requests.per.connection": 5,
    "send.buffer.bytes": 131072,
    "receive.buffer.bytes": 32768,
    "connections.max.idle.ms": 540000,
    "client.dns.lookup": "use_all_dns_ips",
    "security.protocol": "PLAINTEXT",
}


def settings(**overrides: Any) -> ConnectionSettings:
    cfg = dict(DEFAULTS)
    for k, v in overrides.items():
        cfg[k.replace("_", ".")] = v
    return ConnectionSettings(cfg)


def now_ms() -> float:
    return time.monotonic() * 1000.0


def free_port() -> int:
    """A local port nothing listens on (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Loop:
    """Drives connections by hand with the producer's own selector."""

    def __init__(self) -> None:
        self.selector = ConnectionSelector(now_ms)

    def attach(self, conn: BrokerConnection) -> BrokerConnection:
        self.selector.watch(conn)
        return conn

    def step(self, conns: List[BrokerConnection], max_wait_ms: float = 50.0) -> None:
        wait = max_wait_ms
        for c in conns:
            now = c.clock()               # the connection's clock (tests may fake it)
            c.check_timeouts(now)
            wait = min(wait, c.next_timeout_ms(now))
        self.selector.poll(wait)

    def run_until(self, cond: Callable[[], bool], conns: List[BrokerConnection],
                  timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not cond():
            if time.monotonic() > deadline:
                states = [(c.state, c.last_error) for c in conns]
                raise AssertionError(f"condition not met within {timeout_s}s; {states}")
            self.step(conns)

    def close(self) -> None:
        self.selector.close()


def new_connection(loop: Loop, host: str, port: int, node_id: int = -1,
                   **overrides: Any) -> BrokerConnection:
    conn = BrokerConnection(node_id, host, port, settings(**overrides),
                            now_ms, SUPPORTED)
    return loop.attach(conn)


def open_connection(loop: Loop, address: str, timeout_s: float = 20.0,
                    **overrides: Any) -> BrokerConnection:
    """Connect and wait for READY (ApiVersions done)."""
    host, _, port = address.rpartition(":")
    conn = new_connection(loop, host, int(port), **overrides)
    conn.connect(now_ms())
    loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn],
                   timeout_s)
    assert conn.state == READY, conn.last_error
    return conn


class Calls:
    """Collects ``handler(response, error)`` calls."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Optional[dict], Optional[BaseException]]] = []

    def handler(self, tag: Any = None) -> Callable[[Optional[dict], Optional[BaseException]], None]:
        def h(response, error):
            self.calls.append((tag, response, error))
        return h

    def __len__(self) -> int:
        return len(self.calls)


def request(loop: Loop, conn: BrokerConnection, api: str, body: dict,
            timeout_s: float = 20.0) -> dict:
    """Send one request and wait for its answer (raising the error, if any)."""
    calls = Calls()
    conn.send(api, body, calls.handler())
    loop.run_until(lambda: len(calls) == 1, [conn], timeout_s)
    _, response, error = calls.calls[0]
    if error is not None:
        raise error
    return response


# ----------------------------------------------------------------------- fake broker
class FakePeer:
    """Server side of one TCP connection, scripted step by step from the test thread.

    The connection under test is non-blocking and driven by ``Loop``; the peer
    socket is blocking with a timeout, so the test can interleave both sides.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.sock: Optional[socket.socket] = None
        self._buf = bytearray()

    def accept(self, timeout_s: float = 5.0) -> None:
        self.listener.settimeout(timeout_s)
        self.sock, _ = self.listener.accept()
        self.sock.settimeout(timeout_s)
        self._buf = bytearray()

    def read_frame(self) -> bytes:
        while True:
            if len(self._buf) >= 4:
                size = struct.unpack_from(">i", self._buf)[0]
                if len(self._buf) >= 4 + size:
                    frame = bytes(self._buf[4:4 + size])
                    del self._buf[:4 + size]
                    return frame
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("client closed the connection")
            self._buf += data

    def read_request(self) -> Tuple[T.RequestHeader, Any]:
        return proto.decode_request(self.read_frame())

    def send_frame(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, header: T.RequestHeader, body: Struct,
              correlation_id: Optional[int] = None) -> None:
        cid = header.correlation_id if correlation_id is None else correlation_id
        self.send_frame(proto.encode_response(header.api_key, header.api_version, cid, body))

    def handshake(self, ranges: Optional[Dict[int, Tuple[int, int]]] = None) -> T.RequestHeader:
        """Answer the client's ApiVersions with ``ranges`` (default: kprod's own)."""
        header, _ = self.read_request()
        assert header.api_key == 18, header
        if ranges is None:
            ranges = {proto.BY_NAME[api].key: r for api, r in SUPPORTED.items()}
        self.reply(header, api_versions_response(ranges))
        return header

    def is_closed_by_client(self, timeout_s: float = 2.0) -> bool:
        """True once the client side closed the TCP connection (EOF or reset)."""
        self.sock.settimeout(timeout_s)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self) -> None:
        for s in (self.sock, self.listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def connect_to_peer(loop: Loop, peer: FakePeer, ranges=None, **overrides: Any) -> BrokerConnection:
    """A READY connection to ``peer`` (the peer answers ApiVersions)."""
    conn = new_connection(loop, "127.0.0.1", peer.port, **overrides)
    conn.connect(now_ms())
    peer.accept()
    loop.run_until(lambda: not conn.wants_write() or conn.last_error is not None, [conn], 5)
    peer.handshake(ranges)
    loop.run_until(lambda: conn.state == READY or conn.last_error is not None, [conn], 5)
    assert conn.state == READY, conn.last_error
    return conn


# ------------------------------------------------------------- reference read-back
def read_back(bootstrap: str, topic: str, partition: int, offset: int, count: int,
              timeout_s: float = 30.0) -> list:
    """``count`` messages from ``topic``/``partition`` starting at ``offset``, via librdkafka."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kprod-conn-tests",
                         "enable.auto.commit": False, "enable.partition.eof": False})
    out = []
    try:
        consumer.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for msg in consumer.consume(count - len(out), timeout=0.5):
                if msg.error() is not None:
                    raise AssertionError(f"consumer error: {msg.error()}")
                out.append(msg)
        assert len(out) == count, f"got {len(out)} of {count} records back from {topic}"
        return out
    finally:
        consumer.close()


# --------------------------------------------------------------- produce round trip
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def sample_records(n: int, seed: int) -> list:
    """(timestamp_ms, key, value, headers) with nulls, empties, binary and repeats."""
    base = int(time.time() * 1000) - 60_000 + seed
    records = []
    for i in range(n):
        key = None if i % 7 == 3 else f"key-{seed}-{i % 5}".encode()
        value = None if i % 11 == 5 else (b"" if i % 13 == 6 else
                                          bytes([i % 256]) * (i * 37 % 300) + b"v%d" % i)
        headers = [] if i % 3 == 0 else [("h1", b"x%d" % i), ("h\u00e9", None)] \
            if i % 3 == 1 else [("bin", bytes(range(i % 20)))]
        records.append((base + i * 3 - (i % 4), key, value, headers))
    return records


def build_batch(records: list, codec: int):
    from kprod._native.bufferpool import standalone_buffer
    from kprod._native.batch_builder import RecordBatchBuilder

    builder = RecordBatchBuilder(standalone_buffer(256 * 1024), compression=codec)
    for ts, key, value, headers in records:
        assert builder.append(ts, key, value, headers or None) >= 0
    return builder, builder.close()


def api_versions_response(ranges: Dict[int, Tuple[int, int]],
                          error_code: int = 0) -> T.ApiVersionsResponse:
    """An ApiVersions answer advertising ``ranges`` (api key -> (min, max))."""
    return T.ApiVersionsResponse(error_code=error_code, throttle_time_ms=0, api_keys=[
        T.ApiVersion(api_key=k, min_version=lo, max_version=hi)
        for k, (lo, hi) in sorted(ranges.items())])


def produce_body(topic: str, partition: int, batch, acks: int) -> T.ProduceRequest:
    return T.ProduceRequest(transactional_id=None, acks=acks, timeout_ms=10000, topic_data=[
        T.TopicProduceData(name=topic, partition_data=[
            T.PartitionProduceData(index=partition, records=batch)])])


def check_produce_response(response: T.ProduceResponse, topic: str, partition: int) -> int:
    [t] = response.responses
    assert t.name == topic
    [p] = t.partition_responses
    assert p.index == partition
    assert p.error_code == 0, p
    assert p.base_offset >= 0
    return p.base_offset


def check_read_back(bootstrap: str, topic: str, partition: int,
                    produced: List[Tuple[str, int, list]]) -> None:
    """``produced``: (label, base offset, records) per Produce request, in offset order."""
    from confluent_kafka import TIMESTAMP_CREATE_TIME

    first = produced[0][1]
    total = sum(len(r) for _, _, r in produced)
    msgs = read_back(bootstrap, topic, partition, first, total)
    by_offset = {m.offset(): m for m in msgs}
    for label, offset, records in produced:
        for i, (ts, key, value, headers) in enumerate(records):
            where = f"{label}: record {i} (offset {offset + i})"
            msg = by_offset.get(offset + i)
            assert msg is not None, where
            assert msg.key() == key, where
            assert msg.value() == value, where
            assert (msg.headers() or []) == [(k, v) for k, v in headers], where
            assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, ts), where


def produce_every_codec_and_read_back(bootstrap: str, topic: str, n: int = 25) -> None:
    """One Produce per codec and acks setting on one connection; then read all back."""
    loop = Loop()
    conn = open_connection(loop, bootstrap.split(",")[0])
    produced = []
    try:
        seed = 0
        for acks in (1, -1):
            for name, codec in CODECS.items():
                seed += 1
                records = sample_records(n, seed)
                builder, batch = build_batch(records, codec)
                response = request(loop, conn, "Produce", produce_body(topic, 0, batch, acks))
                offset = check_produce_response(response, topic, 0)
                produced.append((f"codec={name} acks={acks}", offset, records))
    finally:
        conn.close(None)
        loop.close()
    offsets = [o for _, o, _ in produced]
    assert offsets == sorted(offsets) and offsets[0] >= 0
    assert [b - a for a, b in zip(offsets, offsets[1:])] == [n] * (len(offsets) - 1)
    check_read_back(bootstrap, topic, 0, produced)


class ListeningPeer:
    """A listening socket on 127.0.0.1 that treats every accepted connection with
    ``behave(conn)`` (on its own thread); ``connections`` are the accepted ones."""

    def __init__(self, behave) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.behave = behave
        self.connections = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(conn)
            self.behave(conn)

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()
