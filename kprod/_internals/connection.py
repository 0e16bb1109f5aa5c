"""One non-blocking connection to one broker, driven by the I/O thread.

Setup is a small state machine: resolve -> TCP connect -> (TLS handshake) ->
ApiVersions (KIP-511) -> (SASL) -> READY; TLS and SASL plug in as extra
states. Requests are pipelined up to ``max.in.flight.requests.per.connection``
and answered in order; a response whose correlation id is not the oldest
in-flight request's is a protocol error that closes the connection. Payload
buffers (record batches) are written with scatter-gather ``sendmsg`` straight
from their memoryviews, without copying them into a request buffer.
"""
from __future__ import annotations

import errno
import logging
import random
import socket
import struct
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from kprod._internals import protocol as proto
from kprod.errors import (
    DnsLookupError, KafkaConnectionError, KafkaError, KafkaTimeoutError, ProtocolError,
    UnsupportedVersionError, error_for_code,
)

log = logging.getLogger("kprod.connection")

_SIZE = struct.Struct(">i")
# A first answer larger than this is not Kafka talking (e.g. "HTTP" = 1213486160).
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
IOV_MAX = 1024

DISCONNECTED, CONNECTING, HANDSHAKE, READY, CLOSED = (
    "DISCONNECTED", "CONNECTING", "HANDSHAKE", "READY", "CLOSED")

ResponseHandler = Callable[[Optional[dict], Optional[BaseException]], None]


class InFlightRequest:
    __slots__ = ("correlation_id", "api", "version", "sent_ms", "handler", "expect_response",
                 "fully_written")

    def __init__(self, correlation_id: int, api: str, version: int, sent_ms: float,
                 handler: ResponseHandler, expect_response: bool) -> None:
        self.correlation_id = correlation_id
        self.api = api
        self.version = version
        self.sent_ms = sent_ms
        self.handler = handler
        self.expect_response = expect_response
        self.fully_written = False


class ConnectionSettings:
    """The connection-related producer settings, read once."""

    def __init__(self, config) -> None:
        self.client_id: str = config["client.id"]
        self.request_timeout_ms: int = config["request.timeout.ms"]
        self.setup_timeout_ms: int = config["socket.connection.setup.timeout.ms"]
        self.setup_timeout_max_ms: int = config["socket.connection.setup.timeout.max.ms"]
        self.reconnect_backoff_ms: int = config["reconnect.backoff.ms"]
        self.reconnect_backoff_max_ms: int = config["reconnect.backoff.max.ms"]
        self.max_in_flight: int = config["max.in.flight.requests.per.connection"]
        self.send_buffer_bytes: int = config["send.buffer.bytes"]
        self.receive_buffer_bytes: int = config["receive.buffer.bytes"]
        self.max_idle_ms: int = config["connections.max.idle.ms"]
        self.use_all_dns_ips: bool = config["client.dns.lookup"] == "use_all_dns_ips"
        self.security_protocol: str = config["security.protocol"]


def exponential(base: float, attempts: int, cap: float, rng: random.Random) -> float:
    """``base * 2^attempts`` with +-20% jitter, capped (KIP-144 / KIP-601)."""
    term = base * (2 ** min(attempts, 32))
    return min(term * rng.uniform(0.8, 1.2), cap)


class BrokerConnection:
    """A connection to ``host:port``. Not thread-safe: owned by the I/O thread."""

    def __init__(self, node_id: int, host: str, port: int, settings: ConnectionSettings,
                 clock: Callable[[], float], supported: Dict[str, Tuple[int, int]]) -> None:
        self.node_id = node_id
        self.host = host
        self.port = port
        self.settings = settings
        self.clock = clock
        self.supported = supported          # api name -> (min, max) kprod implements
        self.state = DISCONNECTED
        self.sock: Optional[socket.socket] = None
        self.in_flight: Deque[InFlightRequest] = deque()
        self.api_versions: Dict[str, int] = {}   # negotiated version per api
        self.broker_ranges: Dict[int, Tuple[int, int]] = {}
        self._correlation_id = 0
        self._out: Deque[memoryview] = deque()   # pending output, in order
        self._out_requests: Deque[Tuple[InFlightRequest, int]] = deque()
        self._recv = bytearray()
        self._addresses: List[Tuple] = []
        self._address_index = 0
        self._failures = 0
        self._rng = random.Random()
        self.setup_deadline = 0.0
        self.setup_started_ms = 0.0
        self.next_attempt_ms = 0.0
        self.last_activity_ms = clock()
        self.last_error: Optional[BaseException] = None
        self.on_state_change: Optional[Callable[["BrokerConnection"], None]] = None
        self.successful_responses = 0

    # -- state ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == READY

    def can_send_more(self) -> bool:
        """Java ``InFlightRequests.canSendMore``."""
        if self.state != READY:
            return False
        if not self.in_flight:
            return True
        return self.in_flight[-1].fully_written and \
            len(self.in_flight) < self.settings.max_in_flight

    def can_connect(self, now: float) -> bool:
        return self.state in (DISCONNECTED, CLOSED) and now >= self.next_attempt_ms

    def wants_write(self) -> bool:
        return self.state == CONNECTING or bool(self._out)

    # -- connect -------------------------------------------------------------------
    def connect(self, now: float) -> None:
        """Start a non-blocking connect. Errors close the connection with a typed error."""
        self.state = CONNECTING
        self.last_error = None
        try:
            if self._address_index >= len(self._addresses):
                # First attempt, or every resolved address has been tried: resolve
                # again (Java's moveToNextAddress), so a broker whose IP changed
                # (restarted pod, DNS failover) is found instead of retrying a stale one.
                self._addresses = []
                self._address_index = 0
                self._addresses = self._resolve()
            family, socktype, protocol, _, address = self._addresses[self._address_index]
            self._address_index += 1    # each attempt moves on to the next address
            sock = socket.socket(family, socktype, protocol)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.settings.send_buffer_bytes != -1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                self.settings.send_buffer_bytes)
            if self.settings.receive_buffer_bytes != -1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                self.settings.receive_buffer_bytes)
            self.sock = sock
            code = sock.connect_ex(address)
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
                raise KafkaConnectionError(
                    f"Connection to broker {self._name()} failed: {errno.errorcode.get(code, code)}"
                    f" ({'connection refused' if code == errno.ECONNREFUSED else 'error'})")
        except KafkaError as exc:
            self.close(exc)
            return
        except OSError as exc:
            self.close(KafkaConnectionError(f"Connection to broker {self._name()} failed: {exc}"))
            return
        timeout = exponential(self.settings.setup_timeout_ms, self._failures,
                              self.settings.setup_timeout_max_ms, self._rng)
        self.setup_started_ms = now
        self.setup_deadline = now + timeout
        self.last_activity_ms = now
        self._notify()

    def _resolve(self) -> List[Tuple]:
        try:
            infos = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise DnsLookupError(
                f"Could not resolve broker host {self.host!r} (port {self.port}): {exc}") from None
        if not infos:
            raise DnsLookupError(f"No addresses for broker host {self.host!r}")
        return infos if self.settings.use_all_dns_ips else infos[:1]

    def _name(self) -> str:
        node = f"node {self.node_id} " if self.node_id >= 0 else ""
        return f"{node}{self.host}:{self.port}"

    def _on_connected(self, now: float) -> None:
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            reason = "connection refused" if err == errno.ECONNREFUSED else os_strerror(err)
            self.close(KafkaConnectionError(
                f"Connection to broker {self._name()} failed: {reason}"))
            return
        self.state = HANDSHAKE
        self._send_api_versions(self.supported["ApiVersions"][1])

    def _send_api_versions(self, version: int) -> None:
        body = {"client_software_name": "kprod", "client_software_version": "0.1.0"}
        self._enqueue("ApiVersions", version, body,
                      lambda response, error: self._on_api_versions(response, error, version),
                      True, handshake=True)

    def _on_api_versions(self, response: Optional[dict], error: Optional[BaseException],
                         sent_version: int = -1) -> None:
        if error is not None:
            # close() fails in-flight requests, this one included: closing again
            # would count one failed setup twice (doubling backoff and setup timeout).
            if self.state != CLOSED:
                self.close(error)
            return
        code = response["error_code"]
        ranges = {k["api_key"]: (k["min_version"], k["max_version"])
                  for k in response["api_keys"]}
        if code == 35 and 18 in ranges:     # UNSUPPORTED_VERSION: retry at the broker's max
            version = min(ranges[18][1], self.supported["ApiVersions"][1])
            if 0 <= version < sent_version:
                self._send_api_versions(version)
                return
            # Only a lower version can help; anything else would loop until the
            # setup timeout and then report a misleading timeout.
            self.close(UnsupportedVersionError(
                f"ApiVersions v{sent_version} rejected by broker {self._name()}, which "
                f"advertises ApiVersions {ranges[18][0]}-{ranges[18][1]}"))
            return
        if code != 0:
            self.close(error_for_code(code, f"ApiVersions from broker {self._name()}"))
            return
        self.broker_ranges = ranges
        # Only Produce and Metadata are required to connect; an API without a common
        # version (e.g. a transactional one on a newer broker) fails when it is used,
        # as in Java, instead of making every connection to that broker fail.
        self.api_versions = {}
        for api, versions in self.supported.items():
            if proto.BY_NAME[api].key in ranges:
                try:
                    self.api_versions[api] = proto.pick_version(api, ranges, versions)
                except UnsupportedVersionError:
                    pass
        try:
            proto.pick_version("Produce", ranges, self.supported["Produce"])
            proto.pick_version("Metadata", ranges, self.supported["Metadata"])
        except UnsupportedVersionError as exc:
            self.close(UnsupportedVersionError(  # exc.message: no doubled "UNSUPPORTED_VERSION:"
                f"broker {self._name()} is too old: {exc.message or exc}"))
            return
        self.state = READY
        self._failures = 0
        log.debug("Connected to %s", self._name())
        self._notify()

    # -- requests ------------------------------------------------------------------
    def send(self, api: str, body: Any, handler: ResponseHandler,
             expect_response: bool = True) -> InFlightRequest:
        """Queue a request (READY only). ``handler(response, error)`` runs on completion."""
        if self.state != READY:
            raise KafkaConnectionError(f"Connection to {self._name()} is not ready")
        version = self.api_versions.get(api)
        if version is None:
            ours = self.supported.get(api)
            theirs = self.broker_ranges.get(proto.BY_NAME[api].key)
            raise UnsupportedVersionError(
                f"broker {self._name()} has no version of {api} that kprod supports "
                f"(kprod: {'%d-%d' % ours if ours else 'none'}, broker: "
                f"{'%d-%d' % theirs if theirs else 'none'})")
        return self._enqueue(api, version, body, handler, expect_response)

    def _enqueue(self, api: str, version: int, body: Any, handler: ResponseHandler,
                 expect_response: bool, handshake: bool = False) -> InFlightRequest:
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        # The encoded chunks start with the 4-byte size prefix; record batches are
        # separate chunks (their memoryviews, not copies).
        chunks, _ = proto.encode_request(api, version, self._correlation_id,
                                         self.settings.client_id, body)
        request = InFlightRequest(self._correlation_id, api, version, self.clock(), handler,
                                  expect_response)
        for chunk in chunks:
            view = chunk if isinstance(chunk, memoryview) else memoryview(chunk)
            if view.nbytes:
                self._out.append(view.cast("B") if view.format != "B" else view)
        self._out_requests.append((request, len(self._out)))
        self.in_flight.append(request)
        self._flush()
        return request

    def _flush(self) -> None:
        """Write as much pending output as the socket takes (scatter-gather)."""
        out = self._out
        sock = self.sock
        while out:
            batch = list(_take(out, IOV_MAX))
            try:
                sent = sock.sendmsg(batch)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.close(KafkaConnectionError(f"Write to broker {self._name()} failed: {exc}"))
                return
            self._consume(sent)
            if sent < sum(v.nbytes for v in batch):
                return

    def _consume(self, sent: int) -> None:
        out = self._out
        removed = 0
        while sent and out:
            head = out[0]
            if head.nbytes <= sent:
                sent -= head.nbytes
                out.popleft()
                removed += 1
            else:
                out[0] = head[sent:]
                sent = 0
        if removed:
            marks = self._out_requests
            rest = deque()
            for request, end in marks:
                end -= removed
                if end <= 0:
                    request.fully_written = True
                    if not request.expect_response:
                        # acks=0: done once written
                        self.in_flight.remove(request)
                        request.handler(None, None)
                else:
                    rest.append((request, end))
            self._out_requests = rest
        self.last_activity_ms = self.clock()

    # -- I/O events ----------------------------------------------------------------
    def on_writable(self, now: float) -> None:
        if self.state == CONNECTING:
            self._on_connected(now)
        if self.state in (HANDSHAKE, READY) and self._out:
            self._flush()

    def on_readable(self, now: float) -> None:
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.close(KafkaConnectionError(f"Read from broker {self._name()} failed: {exc}"))
            return
        if not data:
            self.close(KafkaConnectionError(
                f"Broker {self._name()} closed the connection"
                + (" during setup (is this a Kafka listener?)" if self.state != READY else "")))
            return
        self.last_activity_ms = now
        recv = self._recv
        recv += data
        while self.state != CLOSED and len(recv) >= 4:
            size = _SIZE.unpack_from(recv, 0)[0]
            if size < 4 or size > MAX_RESPONSE_BYTES:
                self.close(ProtocolError(
                    f"Invalid response size {size} from {self._name()}: not a Kafka broker "
                    "or a corrupted stream"))
                return
            if len(recv) < 4 + size:
                break
            frame = bytes(recv[4:4 + size])
            del recv[:4 + size]
            self._on_frame(frame)

    def _on_frame(self, frame: bytes) -> None:
        while self.in_flight and not self.in_flight[0].expect_response:
            self.in_flight.popleft()
        if not self.in_flight:
            self.close(ProtocolError(f"Unexpected response from {self._name()}: nothing in flight"))
            return
        request = self.in_flight.popleft()
        try:
            _, response = proto.decode_response(request.api, request.version, frame,
                                                expected_correlation_id=request.correlation_id)
        except ProtocolError as exc:
            request.handler(None, exc)
            # The handler may have closed already (the ApiVersions one does):
            # closing again would count the failure twice and double the backoff.
            if self.state != CLOSED:
                self.close(exc)
            return
        self.successful_responses += 1
        request.handler(response, None)

    def check_timeouts(self, now: float) -> None:
        if self.state in (CONNECTING, HANDSHAKE) and now >= self.setup_deadline:
            self.close(KafkaTimeoutError(
                f"Connection setup to broker {self._name()} timed out after "
                f"{now - self.setup_started_ms:.0f} ms"   # the timeout grows per failure
                + (" (no ApiVersions answer: is this a Kafka listener?)"
                   if self.state == HANDSHAKE else "")))
            return
        if self.in_flight and self.state == READY:
            oldest = self.in_flight[0]
            if now - oldest.sent_ms >= self.settings.request_timeout_ms:
                # As Java: a request timeout disconnects (in-flight fate unknown).
                self.close(KafkaTimeoutError(
                    f"{oldest.api} request to broker {self._name()} timed out after "
                    f"{self.settings.request_timeout_ms} ms (request.timeout.ms)"))
                return
        if self.state == READY and not self.in_flight and \
                now - self.last_activity_ms >= self.settings.max_idle_ms:
            self.close(None)

    def next_timeout_ms(self, now: float) -> float:
        if self.state in (CONNECTING, HANDSHAKE):
            return max(self.setup_deadline - now, 0)
        if self.in_flight:
            return max(self.in_flight[0].sent_ms + self.settings.request_timeout_ms - now, 0)
        return float("inf")

    def close(self, error: Optional[BaseException]) -> None:
        """Close the socket and fail every in-flight request with ``error``."""
        was = self.state
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.state = CLOSED if error is not None or was != READY else DISCONNECTED
        self.last_error = error
        if error is not None:
            self._failures += 1
            if was in (CONNECTING, HANDSHAKE):
                log.info("%s", error)
        backoff = exponential(self.settings.reconnect_backoff_ms, max(self._failures - 1, 0),
                              self.settings.reconnect_backoff_max_ms, self._rng)
        self.next_attempt_ms = self.clock() + (backoff if error is not None else 0)
        pending, self.in_flight = self.in_flight, deque()
        self._out.clear()
        self._out_requests.clear()
        self._recv = bytearray()
        failure = error or KafkaConnectionError(f"Connection to {self._name()} closed")
        # Notify before running handlers: the socket's fd is free now, and a handler
        # that opens another connection may get the same fd number; a later notify
        # would then unregister that other connection's socket from the selector.
        self._notify()
        for request in pending:
            try:
                request.handler(None, failure)
            except Exception:
                log.exception("Error handler failed for %s", request.api)

    def _notify(self) -> None:
        if self.on_state_change is not None:
            self.on_state_change(self)


def _take(out: Deque[memoryview], n: int):
    for i, view in enumerate(out):
        if i >= n:
            return
        yield view


def os_strerror(code: int) -> str:
    import os
    return os.strerror(code)
