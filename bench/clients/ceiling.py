"""The broker's ceiling: a raw client that costs almost nothing per record.

It builds one RecordBatch per partition once (bench.raw: the run's records, keys and
headers, filled up to batch.size, compressed with the run's codec), then sends them in
pipelined Produce v7 requests over one plain (or TLS 1.3) socket, one partition per
request, rotating over the partitions, up to max.in.flight=5 requests unanswered; a
smaller batch carries the remainder so exactly ``num_records`` are sent. Every
response's error codes are checked. Same clock as the other runners: one warm-up
request (one record, answered) before it, and in the bulk-* scenarios
``warmup_records - 1`` more records pipelined (a buffer.memory's worth, as the bulk
runners send); from the first timed request until the last
response (acks=0: until the last byte is written). The batches are non-idempotent
(producer id -1), so the broker skips the sequence checks idempotent clients get.
"""
from __future__ import annotations

import socket
import ssl
import struct
from typing import Any, Dict, List, Optional, Tuple, Union

from bench import raw
from bench.clients._common import Clock, Tally, emit, load_spec, records
from bench.clients.settings import MAX_IN_FLIGHT, MAX_REQUEST_SIZE, TLS_CIPHER, TLS_PROTOCOL

TIMEOUT_MS = 30_000


class Connection:
    def __init__(self, spec: Dict[str, Any]) -> None:
        host, port = spec["bootstrap"].split(",")[0].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.cipher = None
        if spec.get("tls"):
            ctx = ssl.create_default_context(cafile=spec["tls"]["ca"])
            ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
            sock = ctx.wrap_socket(sock, server_hostname=host)
            self.cipher = sock.cipher()
            if sock.version() != TLS_PROTOCOL or self.cipher[0] != TLS_CIPHER:
                raise SystemExit(f"TLS negotiated {sock.version()} {self.cipher[0]}, "
                                 f"expected {TLS_PROTOCOL} {TLS_CIPHER}")
        self.sock = sock
        self.buf = bytearray()

    def send(self, data: Union[bytes, bytearray]) -> None:
        self.sock.sendall(data)

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buf += chunk
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def response(self) -> bytes:
        (size,) = struct.unpack(">i", self._read(4))
        return self._read(size)


def record_pool(spec: Dict[str, Any]) -> Tuple[List[Any], int]:
    """The run's (key, value, headers) records, and its acks as a Produce request
    carries them (all: -1)."""
    keys, values, headers = records(spec)
    return list(zip(keys, values, headers)), {"0": 0, "1": 1}.get(str(spec["acks"]), -1)


def batches_per_request(spec: Dict[str, Any], batch: bytes) -> int:
    """As a client drains a leader: one batch per partition in a request, as many
    partitions as fit in max.request.size (1 MiB)."""
    return max(1, min(spec["partitions"], MAX_REQUEST_SIZE // (len(batch) + 64)))


def plan_requests(spec: Dict[str, Any], pool: List[Any], batch: bytes, per_batch: int,
                  acks: int, records: Optional[int] = None) -> Tuple[List[bytearray], List[int]]:
    """The timed requests and the records each carries: ``records`` (default
    ``spec["num_records"]``) records as copies of ``batch`` (``per_batch`` records each),
    the remainder in one smaller batch."""
    n = spec["num_records"] if records is None else records
    topic, partitions = spec["topic"], spec["partitions"]
    full, rest = divmod(n, per_batch)
    # Requests with the same first partition and batch count are the same bytes: built
    # once, re-sent.
    per_request = batches_per_request(spec, batch)
    plan: Dict[tuple, bytearray] = {}
    requests: List[bytearray] = []
    counts: List[int] = []
    sent_batches = 0
    while sent_batches < full:
        take = min(per_request, full - sent_batches)
        first = sent_batches % partitions
        key = (first, take)
        if key not in plan:
            plan[key] = raw.produce_request(0, "ceiling", acks, TIMEOUT_MS, topic, [
                ((first + j) % partitions, batch) for j in range(take)])
        requests.append(plan[key])
        counts.append(take * per_batch)
        sent_batches += take
    if rest:
        small = raw.fill_batch(pool, 1 << 30, spec["compression"], limit=rest)[0]
        requests.append(raw.produce_request(0, "ceiling", acks, TIMEOUT_MS, topic,
                                            [(full % partitions, small)]))
        counts.append(rest)
    return requests, counts


def _check(body: bytes, expected: int, t: Tally, count: int) -> None:
    correlation, results = raw.parse_produce_response(body)
    if correlation != expected:
        raise SystemExit(f"response {correlation} out of order (expected {expected})")
    errors = [r for r in results if r[2] != 0]
    if errors or not results:
        t.error(f"Produce error {errors or 'no partitions'}")
    else:
        t.acked += count


def warm_up(conn: Connection, spec: Dict[str, Any], pool: List[Any], acks: int,
            warm: Tally, batch: Optional[bytes] = None, per_batch: int = 0) -> int:
    """One single-record request, answered (the connection; no metadata: the topic is
    known), with correlation id 1; then, given ``batch``, ``warmup_records - 1`` more
    records sent pipelined as the timed ones are (the bulk-* scenarios'
    warm-up). Returns the timed requests' first correlation id."""
    one = raw.encode_batch([raw.encode_record(0, *pool[0])], spec["compression"])
    conn.send(raw.produce_request(1, "ceiling", -1 if acks == 0 else acks, TIMEOUT_MS,
                                  spec["topic"], [(0, one)]))
    _check(conn.response(), 1, warm, 1)
    more = spec.get("warmup_records", 1) - 1
    if batch is None or more <= 0:
        return 2
    # acks=all when the run's acks=0 (as for the first record): answered, so the clock
    # starts on an idle connection
    warm_acks = -1 if acks == 0 else acks
    requests, counts = plan_requests(spec, pool, batch, per_batch, warm_acks, more)
    send_pipelined(conn, requests, counts, warm_acks, warm, 2)
    return 2 + len(requests)


def send_pipelined(conn: Connection, requests: List[bytearray], counts: List[int],
                   acks: int, tally: Tally, first_correlation: int = 2) -> None:
    """Send ``requests`` with up to max.in.flight unanswered, then wait for the last
    answer; ``tally`` counts the acknowledged records (acks=0: all of them). The
    correlation ids count up from ``first_correlation``."""
    next_answer = 0
    for i, request in enumerate(requests):
        if acks != 0 and i - next_answer >= MAX_IN_FLIGHT:
            _check(conn.response(), first_correlation + next_answer, tally,
                   counts[next_answer])
            next_answer += 1
        raw.set_correlation(request, first_correlation + i)
        conn.send(request)
    if acks == 0:
        tally.acked = sum(counts)   # nothing comes back: the harness's broker count checks
        return
    while next_answer < len(requests):
        _check(conn.response(), first_correlation + next_answer, tally, counts[next_answer])
        next_answer += 1


def main() -> None:
    spec = load_spec()
    if spec.get("avro"):
        raise SystemExit("the ceiling client sends bytes only")
    pool, acks = record_pool(spec)
    batch, per_batch = raw.ceiling_batch(pool, spec["batch_size"], spec["compression"])
    requests, counts = plan_requests(spec, pool, batch, per_batch, acks)
    conn = Connection(spec)
    tally, warm = Tally(), Tally()
    first = warm_up(conn, spec, pool, acks, warm, batch, per_batch)
    clock = Clock()
    clock.start()
    send_pipelined(conn, requests, counts, acks, tally, first)
    elapsed, cpu = clock.stop()
    conn.sock.close()
    notes = [f"{per_batch} records per batch ({len(batch)} B), up to "
             f"{batches_per_request(spec, batch)} partition(s) per request"]
    emit(spec, tally, elapsed, cpu, None, notes, warmup_acked=warm.acked,
         clock=clock)


if __name__ == "__main__":
    main()
