"""One non-blocking connection to one broker, driven by the I/O thread.

Setup is a small state machine: resolve -> TCP connect -> (TLS handshake) ->
ApiVersions (KIP-511) -> (SASL) -> READY; TLS and SASL plug in as extra
states. Requests are pipelined up to ``max.in.flight.requests.per.connection``
and answered in order; a response whose correlation id is not the oldest
in-flight request's is a protocol error that closes the connection. Payload
buffers (record batches) are written with scatter-gather ``sendmsg`` straight
from their memoryviews, without copying them into a request buffer; TLS sockets
have no ``sendmsg`` and get one ``send`` per (joined) chunk instead.

Security (``security.protocol``): SSL wraps the socket after the TCP connect and
runs the non-blocking handshake in TLS_HANDSHAKE; SASL (KIP-152: SaslHandshake v1
then SaslAuthenticate rounds, mechanisms in :mod:`kprod._internals.sasl`) runs in
AUTHENTICATING after ApiVersions. Authentication failures close the connection
with an :class:`~kprod.errors.AuthenticationError` and call ``on_auth_failure``.
A SASL session with a lifetime (KIP-368) is re-authenticated in place: near expiry
the connection stops taking new requests, lets the in-flight ones finish, then runs
SaslHandshake + SaslAuthenticate again on the same socket (REAUTHENTICATING) and
goes back to READY; brokers without SaslAuthenticate v1 get a reconnect instead.
Those setup exchanges live in :mod:`kprod._internals.handshake`, the states in
:mod:`kprod._internals.connection_states`, the settings in
:mod:`kprod._internals.connection_settings`.
"""
from __future__ import annotations

import errno
import logging
import random
import socket
import ssl
import struct
from collections import deque
from itertools import islice
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple, Union, cast

from kprod._internals import protocol as proto
from kprod._internals import tls as _tls
from kprod._internals.backoff import exponential
from kprod._internals.connection_settings import ConnectionSettings  # noqa: F401 (re-export)
from kprod._internals.connection_states import (  # noqa: F401 (re-exported)
    _AUTH_STATES, _SETUP_STATES, AUTHENTICATING, CLOSED, CONNECTING, DISCONNECTED, HANDSHAKE,
    READY, REAUTHENTICATING, TLS_HANDSHAKE,
)
from kprod._internals.handshake import ConnectionHandshake
from kprod._internals.protocol.client import (
    decode_client_response, encode_client_request, version_cap)
from kprod._native.requests import InFlightRequest
from kprod.errors import (  # noqa: F401 (UnsupportedSaslMechanismError: re-exported)
    AuthenticationError, DnsLookupError, KafkaConnectionError, KafkaError, KafkaTimeoutError,
    ProtocolError, UnsupportedSaslMechanismError, UnsupportedVersionError,
)

log = logging.getLogger("kprod.connection")

_SIZE = struct.Struct(">i")
# A first answer larger than this is not Kafka talking (e.g. "HTTP" = 1213486160).
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
IOV_MAX = 1024
# Reading more than this per readable event would starve the other connections.
_MAX_READ_PER_EVENT = 4 << 20
_READ_BUFFER_BYTES = 256 * 1024   # per plain-socket read (the socket stays readable)
# TLS writes: small chunks are joined into one write of at most this many bytes.
_TLS_WRITE_BYTES = 256 * 1024

ResponseHandler = Callable[[Optional[dict], Optional[BaseException]], None]


class BrokerConnection(ConnectionHandshake):
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
        self._out_bytes = 0                      # their total size
        self._out_requests: Deque[Tuple[InFlightRequest, int]] = deque()
        self._recv = bytearray()
        # Plain sockets read into this reused buffer: recv(n) allocates n bytes per call
        # (a 1 MiB malloc is an mmap, munmap and mremap per response).
        self._read_buffer: Optional[memoryview] = None
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
        self.finalized_features: Dict[str, int] = {}
        # Called with the error when TLS/SASL authentication fails: retrying the same
        # credentials cannot help, so the owner should fail waiters promptly.
        self.on_auth_failure: Optional[Callable[[BaseException], None]] = None
        # Called (api, version, response) with a setup exchange's answer (ApiVersions
        # carries throttle_time_ms, KIP-219); the setup's answers skip the owner's poll.
        self.on_setup_response: Optional[Callable[[str, int, Any], None]] = None
        self._tls = False
        self._tls_want_write = False
        self._flush_on_readable = False
        self.session_expiry_ms = 0.0     # KIP-368: reconnect (re-authenticate) before this
        self.authenticated_mechanism: Optional[str] = None

    # -- state ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.state == READY

    def can_send_more(self) -> bool:
        """Java ``InFlightRequests.canSendMore``."""
        if self.state != READY:
            return False
        if self.session_expiry_ms and self.clock() >= self.session_expiry_ms:
            return False     # SASL session near expiry: drain, then reconnect (KIP-368)
        if not self.in_flight:
            return True
        return self.in_flight[-1].fully_written and \
            len(self.in_flight) < self.settings.max_in_flight

    def can_connect(self, now: float) -> bool:
        return self.state in (DISCONNECTED, CLOSED) and now >= self.next_attempt_ms

    def wants_write(self) -> bool:
        if self.state == TLS_HANDSHAKE:
            return self._tls_want_write
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
                f"DNS lookup failed for broker host {self.host!r} (port {self.port}): could "
                f"not resolve it: {exc}") from None
        if not infos:
            raise DnsLookupError(f"No addresses for broker host {self.host!r}")
        return infos if self.settings.use_all_dns_ips else infos[:1]

    def _name(self) -> str:
        node = f"node {self.node_id} " if self.node_id >= 0 else ""
        return f"{node}{self.host}:{self.port}"

    def _on_connected(self, now: float) -> None:
        sock = self.sock
        assert sock is not None          # CONNECTING: the socket exists
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            reason = "connection refused" if err == errno.ECONNREFUSED else os_strerror(err)
            self.close(KafkaConnectionError(
                f"Connection to broker {self._name()} failed: {reason}"))
            return
        stats = self.settings.stats
        stats.creations += 1
        if stats.on_creation is not None:
            stats.on_creation()
        if self.settings.ssl_context is not None:
            try:
                self.sock = self.settings.ssl_context.wrap_socket(
                    sock, server_hostname=self.host, do_handshake_on_connect=False)
            except (ssl.SSLError, ValueError, OSError) as exc:
                self.close(AuthenticationError(
                    f"TLS setup for broker {self._name()} failed: {_tls._reason(exc)}"))
                return
            self._tls = True
            self.state = TLS_HANDSHAKE
            self._tls_handshake()
            return
        self._start_api_versions()

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
        cap = version_cap(api, body)
        if cap is not None and version > cap:
            version = cap
        return self._enqueue(api, version, body, handler, expect_response)

    def _enqueue(self, api: str, version: int, body: Any, handler: ResponseHandler,
                 expect_response: bool) -> InFlightRequest:
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        # The encoded chunks start with the 4-byte size prefix; record batches are
        # separate chunks (their memoryviews, not copies).
        chunks, size = encode_client_request(api, version, self._correlation_id,
                                             self.settings.client_id, body)
        request = InFlightRequest(self._correlation_id, api, version, self.clock(), handler,
                                  expect_response)
        self.in_flight.append(request)
        had_output = bool(self._out)        # already waiting for writability
        sent = 0
        direct = not had_output and not self._tls and self.sock is not None \
            and len(chunks) <= IOV_MAX
        if direct:
            # Nothing queued before it (the usual case below full speed): one sendmsg
            # straight from the encoder's chunks, and no output queue unless it is short.
            sent = self._send_now(chunks)
            if sent < 0:
                return request          # the connection closed (its requests failed)
            if sent == size + 4:        # size: the frame's size prefix, which excludes itself
                self.last_activity_ms = self.clock()
                self._written(request)
                return request
        for chunk in chunks:
            view = chunk if isinstance(chunk, memoryview) else memoryview(chunk)
            if view.nbytes:
                self._out.append(view.cast("B") if view.format != "B" else view)
                self._out_bytes += view.nbytes
        self._out_requests.append((request, len(self._out)))
        if not direct:
            self._flush()
        elif sent:
            self._consume(sent)         # a short write above: the socket buffer is full
        # (direct and nothing taken: the socket is full now, writability resumes it)
        if self._out and not had_output and self.sock is not None:
            # A partial write outside on_writable: the owner must now watch for
            # writability, or a large request with nothing else in flight stalls.
            self._notify()
        return request

    def _flush(self) -> None:
        """Write as much pending output as the socket takes (scatter-gather)."""
        if self._tls:
            self._flush_tls()
            return
        out = self._out
        while out:
            batch = list(out) if len(out) <= IOV_MAX else list(islice(out, IOV_MAX))
            sent = self._send_now(batch)
            if sent <= 0 or self._consume(sent) < len(batch):
                return          # a short write: the socket buffer is full

    def _send_now(self, chunks: List[Any]) -> int:
        """One write of a request's chunks: the bytes taken (0 when the socket takes
        none now), or -1 after a failure closed the connection."""
        assert self.sock is not None
        try:
            return self.sock.sendmsg(chunks)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            self.close(KafkaConnectionError(f"Write to broker {self._name()} failed: {exc}"))
            return -1

    def _flush_tls(self) -> None:
        """TLS sockets have no sendmsg: write joined chunks, one ``send`` at a time.

        After SSLWantWrite the retry passes the same bytes again (the head of the
        queue is unchanged and only grows at the tail), as OpenSSL requires.
        """
        out = self._out
        sock = self.sock
        assert sock is not None
        self._flush_on_readable = False
        while out:
            data: Union[bytes, memoryview]
            if out[0].nbytes >= _TLS_WRITE_BYTES or len(out) == 1:
                data = out[0]
            else:
                parts, size = [], 0
                for view in out:
                    if size and size + view.nbytes > _TLS_WRITE_BYTES:
                        break
                    parts.append(view)
                    size += view.nbytes
                data = b"".join(parts)
            try:
                sent = sock.send(data)
            except (ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
                return
            except ssl.SSLWantReadError:
                self._flush_on_readable = True
                return
            except OSError as exc:
                self.close(KafkaConnectionError(f"Write to broker {self._name()} failed: {exc}"))
                return
            if sent <= 0:
                return
            self._consume(sent)

    def _consume(self, sent: int) -> int:
        """Drop ``sent`` written bytes from the output; returns how many whole chunks
        left it."""
        out = self._out
        self.last_activity_ms = self.clock()
        if sent == self._out_bytes:
            # All of it (the usual case at moderate rates): no chunk-by-chunk walk.
            removed = len(out)
            out.clear()
            self._out_bytes = 0
            marks, self._out_requests = self._out_requests, deque()
            for request, _ in marks:
                self._written(request)
            return removed
        self._out_bytes -= sent
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
            rest: Deque[Tuple[InFlightRequest, int]] = deque()
            for request, end in marks:
                end -= removed
                if end <= 0:
                    self._written(request)
                else:
                    rest.append((request, end))
            self._out_requests = rest
        return removed

    def _written(self, request: InFlightRequest) -> None:
        request.fully_written = True
        if not request.expect_response:
            # acks=0: done once written
            self.in_flight.remove(request)
            request.handler(None, None)

    # -- I/O events ----------------------------------------------------------------
    def on_writable(self, now: float) -> None:
        if self.state == CONNECTING:
            self._on_connected(now)
        elif self.state == TLS_HANDSHAKE:
            self._tls_handshake()
        if self.state in (HANDSHAKE, AUTHENTICATING, REAUTHENTICATING, READY) and self._out:
            self._flush()

    def on_readable(self, now: float) -> None:
        if self.state == TLS_HANDSHAKE:
            self._tls_handshake()
            return
        if self._flush_on_readable and self._out:
            self._flush()
            if self.sock is None:
                return
        try:
            data = self._read()
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except OSError as exc:
            if self._tls and self.state != READY and _tls.is_auth_failure(exc):
                # TLS 1.3: the broker checks the client certificate after the client
                # finished its handshake; its alert arrives with the first read.
                self.close(AuthenticationError(
                    f"TLS session with broker {self._name()} failed: "
                    f"{_tls.describe_handshake_error(exc)}"))
                return
            if isinstance(exc, ConnectionResetError):     # the peer closed, unread data
                self.close(KafkaConnectionError(
                    f"Broker {self._name()} closed the connection (reset by peer)"
                    + (self._setup_hint() if self.state != READY else "")))
                return
            self.close(KafkaConnectionError(f"Read from broker {self._name()} failed: {exc}"))
            return
        if not data:
            self.close(KafkaConnectionError(
                f"Broker {self._name()} closed the connection"
                + (self._setup_hint() if self.state != READY else "")))
            return
        if self.state in (HANDSHAKE, AUTHENTICATING) and not self._recv and not self._tls \
                and len(data) >= 2 and data[0] in (0x15, 0x16) and data[1] == 0x03:
            # A TLS record (alert/handshake) instead of a Kafka response.
            self.close(AuthenticationError(
                f"Broker {self._name()} answered with TLS: the listener expects "
                f"security.protocol SSL or SASL_SSL, not {self.settings.security_protocol}"))
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

    def _read(self) -> Union[bytes, memoryview]:
        sock = self.sock
        assert sock is not None
        if not self._tls:
            # The bytes are consumed (copied into _recv) before the next read.
            buffer = self._read_buffer
            if buffer is None:
                buffer = self._read_buffer = memoryview(bytearray(_READ_BUFFER_BYTES))
            return buffer[:sock.recv_into(buffer)]
        # One TLS record per recv(); decrypted bytes buffered inside the SSL object do
        # not wake the selector, so read until the socket would block.
        chunks: List[bytes] = []
        total = 0
        while True:
            try:
                data = sock.recv(1 << 20)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            if not data:
                if chunks:
                    break        # report EOF on the next event (it stays readable)
                return b""
            chunks.append(data)
            total += len(data)
            if total >= _MAX_READ_PER_EVENT and not cast(ssl.SSLSocket, sock).pending():
                break
        if not chunks:
            raise BlockingIOError
        return b"".join(chunks)

    def _setup_hint(self) -> str:
        proto_ = self.settings.security_protocol
        if self.state in _AUTH_STATES:
            return " during SASL " + ("re-authentication" if self.state == REAUTHENTICATING
                                      else "authentication")
        if proto_ in ("PLAINTEXT", "SASL_PLAINTEXT"):
            return (" during setup (is this a Kafka listener? Does it need TLS "
                    "(security.protocol SSL/SASL_SSL)?)")
        return " during setup (is this a Kafka listener?)"

    def _on_frame(self, frame: bytes) -> None:
        while self.in_flight and not self.in_flight[0].expect_response:
            self.in_flight.popleft()
        if not self.in_flight:
            self.close(ProtocolError(f"Unexpected response from {self._name()}: nothing in flight"))
            return
        request = self.in_flight.popleft()
        try:
            _, response = decode_client_response(request.api, request.version, frame,
                                                 request.correlation_id)
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
        if self.state in _SETUP_STATES and now >= self.setup_deadline:
            self.close(KafkaTimeoutError(
                f"Connection setup to broker {self._name()} timed out after "
                f"{now - self.setup_started_ms:.0f} ms"   # the timeout grows per failure
                + {HANDSHAKE: " (no ApiVersions answer: is this a Kafka listener?)",
                   TLS_HANDSHAKE: " (during the TLS handshake: is this a TLS listener?)",
                   AUTHENTICATING: " (during SASL authentication)",
                   REAUTHENTICATING: " (during SASL re-authentication, KIP-368)"}.get(
                       self.state, "")))
            return
        if self.state == READY and self.session_expiry_ms and not self.in_flight and \
                not self._out and now >= self.session_expiry_ms:
            self._start_reauthentication(now)
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
        if self.state in _SETUP_STATES:
            return max(self.setup_deadline - now, 0)
        if self.in_flight:
            return max(self.in_flight[0].sent_ms + self.settings.request_timeout_ms - now, 0)
        if self.state == READY and self.session_expiry_ms:
            return max(self.session_expiry_ms - now, 0)     # re-authenticate on time
        return float("inf")

    def idle_deadline_ms(self) -> float:
        """When :meth:`check_timeouts` closes this connection as idle, if nothing
        happens meanwhile (connections.max.idle.ms)."""
        if self.state == READY and not self.in_flight:
            return self.last_activity_ms + self.settings.max_idle_ms
        return float("inf")

    def close(self, error: Optional[BaseException]) -> None:
        """Close the socket and fail every in-flight request with ``error``."""
        was = self.state
        stats = self.settings.stats
        if was == READY or (was in _SETUP_STATES and was != CONNECTING):
            stats.closes += 1           # an established connection (Java's close-total)
        if isinstance(error, AuthenticationError) and was in _AUTH_STATES:
            if was == REAUTHENTICATING:
                stats.failed_reauthentications += 1
            stats.failed_authentications += 1
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
            if isinstance(error, AuthenticationError):
                log.error("%s", error)
            elif was in _SETUP_STATES:
                log.info("%s", error)
        backoff = exponential(self.settings.reconnect_backoff_ms, max(self._failures - 1, 0),
                              self.settings.reconnect_backoff_max_ms, self._rng)
        self.next_attempt_ms = self.clock() + (backoff if error is not None else 0)
        pending, self.in_flight = self.in_flight, deque()
        self._out.clear()
        self._out_bytes = 0
        self._out_requests.clear()
        self._recv = bytearray()
        self._tls = False
        self._tls_want_write = False
        self._flush_on_readable = False
        self.session_expiry_ms = 0.0
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
        if isinstance(error, AuthenticationError) and self.on_auth_failure is not None:
            self.on_auth_failure(error)

    def _notify(self) -> None:
        if self.on_state_change is not None:
            self.on_state_change(self)


def os_strerror(code: int) -> str:
    import os
    return os.strerror(code)
