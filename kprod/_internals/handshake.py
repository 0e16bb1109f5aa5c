"""A broker connection's setup after the TCP connect, and its SASL re-authentication:
the TLS handshake, ApiVersions with version negotiation (KIP-511), SASL (KIP-152:
SaslHandshake v1 then SaslAuthenticate rounds, mechanisms in
:mod:`kprod._internals.sasl`) and in-place re-authentication near the session's
expiry (KIP-368).

:class:`ConnectionHandshake` is the part of
:class:`~kprod._internals.connection.BrokerConnection` that runs these exchanges; it
uses the connection's socket, state, ``_enqueue`` (requests sent before READY) and
``close``.
"""
from __future__ import annotations

import logging
import ssl
import time as _time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from kprod._internals import protocol as proto
from kprod._internals import sasl as _sasl
from kprod._internals import tls as _tls
from kprod._internals.connection_states import (
    AUTHENTICATING, CLOSED, HANDSHAKE, READY, REAUTHENTICATING,
)
from kprod._internals.protocol import types
from kprod.errors import (
    AuthenticationError, IllegalSaslStateError, KafkaConnectionError, SaslAuthenticationError,
    UnsupportedSaslMechanismError, UnsupportedVersionError, error_for_code,
)

if TYPE_CHECKING:
    import socket

    from kprod._internals.connection_settings import ConnectionSettings

log = logging.getLogger("kprod.connection")


class ConnectionHandshake:
    """Setup and re-authentication steps of a BrokerConnection (see the module doc)."""

    if TYPE_CHECKING:       # what the mixin uses of BrokerConnection
        settings: ConnectionSettings
        clock: Callable[[], float]
        supported: Dict[str, Tuple[int, int]]
        sock: Optional[socket.socket]
        authenticated_mechanism: Optional[str]
        on_setup_response: Optional[Callable[[str, int, Any], None]]

        def _name(self) -> str: ...
        def close(self, error: Optional[BaseException]) -> None: ...
        def _notify(self) -> None: ...
        def _enqueue(self, api: str, version: int, body: Any,
                     handler: Callable[[Optional[Any], Optional[BaseException]], None],
                     expect_response: bool) -> Any: ...

    def _setup_failed(self, error: Optional[BaseException]) -> bool:
        """A setup request failed: close with its error, unless the close that failed it
        already happened (closing again would count one failed setup twice, doubling
        the backoff and the setup timeout)."""
        if error is None:
            return False
        if self.state != CLOSED:
            self.close(error)
        return True

    def _start_api_versions(self) -> None:
        self.state = HANDSHAKE
        self._send_api_versions(self.supported["ApiVersions"][1])

    def _tls_handshake(self) -> None:
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._set_tls_want_write(False)
            return
        except ssl.SSLWantWriteError:
            self._set_tls_want_write(True)
            return
        except (ssl.SSLError, OSError) as exc:
            reason = _tls.describe_handshake_error(exc)
            if _tls.is_auth_failure(exc):
                error: BaseException = AuthenticationError(
                    f"TLS handshake with broker {self._name()} failed: {reason}")
            else:
                error = KafkaConnectionError(
                    f"TLS handshake with broker {self._name()} failed: {reason} (is this a "
                    "TLS listener?)")
            self.close(error)
            return
        self._tls_want_write = False
        log.debug("TLS %s with %s", sock.version(), self._name())
        self._start_api_versions()
        self._notify()

    def _set_tls_want_write(self, want: bool) -> None:
        if want != self._tls_want_write:
            self._tls_want_write = want
            self._notify()

    def _send_api_versions(self, version: int) -> None:
        body = types.ApiVersionsRequest(client_software_name="kprod",
                                        client_software_version="0.1.0")
        self._enqueue("ApiVersions", version, body,
                      lambda response, error: self._on_api_versions(response, error, version),
                      True)

    def _on_api_versions(self, response: Optional[types.ApiVersionsResponse],
                         error: Optional[BaseException],
                         sent_version: int = -1) -> None:
        if self._setup_failed(error):
            return
        assert response is not None     # no error: the broker answered
        code = response.error_code
        ranges = proto.broker_versions(response)
        api_versions_key = proto.BY_NAME["ApiVersions"].key
        if code == UnsupportedVersionError.code and api_versions_key in ranges:
            # retry at the broker's highest ApiVersions (KIP-511)
            version = min(ranges[api_versions_key][1], self.supported["ApiVersions"][1])
            if 0 <= version < sent_version:
                self._send_api_versions(version)
                return
            # Only a lower version can help; anything else would loop until the
            # setup timeout and then report a misleading timeout.
            self.close(UnsupportedVersionError(
                f"ApiVersions v{sent_version} rejected by broker {self._name()}, which "
                "advertises ApiVersions %d-%d" % ranges[api_versions_key]))
            return
        if code != 0:
            self.close(error_for_code(code, f"ApiVersions from broker {self._name()}"))
            return
        self.broker_ranges = ranges
        if self.on_setup_response is not None:
            self.on_setup_response("ApiVersions", sent_version, response)
        # Cluster-wide feature levels (KIP-584), e.g. transaction.version (KIP-890).
        self.finalized_features = {f.name: f.max_version_level
                                   for f in response.finalized_features or ()}
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
        if self.settings.sasl is not None:
            self._start_sasl()
            return
        self._on_ready()

    # -- SASL (KIP-152) ------------------------------------------------------------
    def _start_sasl(self, state: str = AUTHENTICATING) -> None:
        creds = self.settings.sasl
        assert creds is not None
        version = self.api_versions.get("SaslHandshake")
        if version is None or version < 1 or "SaslAuthenticate" not in self.api_versions:
            self.close(UnsupportedVersionError(
                f"broker {self._name()} does not support SaslHandshake v1/SaslAuthenticate "
                "(KIP-152, Kafka 1.0+)"))
            return
        self.state = state
        self._enqueue("SaslHandshake", version, types.SaslHandshakeRequest(creds.mechanism),
                      self._on_sasl_handshake, True)

    def _on_sasl_handshake(self, response: Optional[types.SaslHandshakeResponse],
                           error: Optional[BaseException]) -> None:
        if self._setup_failed(error):
            return
        assert response is not None and self.settings.sasl is not None
        mechanism = self.settings.sasl.mechanism
        code = response.error_code
        enabled = ", ".join(response.mechanisms or ()) or "none"
        if code == UnsupportedSaslMechanismError.code:
            self.close(UnsupportedSaslMechanismError(
                f"SASL mechanism {mechanism} is not enabled on broker {self._name()}; "
                f"it enables: {enabled}"))
            return
        if code == IllegalSaslStateError.code:     # SASL on a listener without SASL
            self.close(AuthenticationError(
                f"SaslHandshake ({mechanism}) with broker {self._name()} failed: "
                f"ILLEGAL_SASL_STATE (is this a SASL listener? security.protocol="
                f"{self.settings.security_protocol})"))
            return
        if code != 0:
            self.close(error_for_code(code, f"SaslHandshake ({mechanism}) with broker "
                                            f"{self._name()}"))
            return
        try:
            self._mechanism = _sasl.mechanism_for(self.settings.sasl)
            first = self._mechanism.initial()
        except AuthenticationError as exc:
            self.close(exc)
            return
        self._send_sasl_bytes(first)

    def _send_sasl_bytes(self, data: bytes) -> None:
        self._enqueue("SaslAuthenticate", self.api_versions["SaslAuthenticate"],
                      types.SaslAuthenticateRequest(data), self._on_sasl_authenticate, True)

    def _on_sasl_authenticate(self, response: Optional[types.SaslAuthenticateResponse],
                              error: Optional[BaseException]) -> None:
        if self._setup_failed(error):
            return
        assert response is not None and self.settings.sasl is not None
        mechanism = self.settings.sasl.mechanism
        code = response.error_code
        if code != 0:
            detail = response.error_message or "authentication failed"
            exc = error_for_code(code, f"{mechanism} authentication with broker "
                                       f"{self._name()} failed: {detail}")
            if not isinstance(exc, AuthenticationError):
                exc = SaslAuthenticationError(
                    f"{mechanism} authentication with broker {self._name()} failed: "
                    f"{exc}")
            self.close(exc)
            return
        try:
            reply = self._mechanism.step(response.auth_bytes or b"")
        except AuthenticationError as exc:
            self.close(AuthenticationError(f"{exc} (broker {self._name()})"))
            return
        if reply is not None:
            self._send_sasl_bytes(reply)
            return
        lifetime = response.session_lifetime_ms or 0
        if lifetime > 0:
            # KIP-368: the broker drops the session at expiry. kprod re-authenticates by
            # reconnecting once the connection is idle past ~85% of the lifetime.
            self.session_expiry_ms = self.clock() + lifetime * 0.85
        if self.settings.max_reauth_ms > 0:
            # Client-side cap (connections.max.reauth.ms) on top of the broker's.
            cap = self.clock() + self.settings.max_reauth_ms
            self.session_expiry_ms = min(self.session_expiry_ms or cap, cap)
        token_expiry_s = getattr(self._mechanism, "expiry_s", None)
        if token_expiry_s is not None:
            # OAUTHBEARER: never keep using a session past ~85% of the token's life.
            left_ms = max(token_expiry_s - _time.time(), 0) * 1000.0
            expiry = self.clock() + left_ms * 0.85
            self.session_expiry_ms = min(self.session_expiry_ms or expiry, expiry)
        self.authenticated_mechanism = mechanism
        log.debug("Authenticated to %s with %s", self._name(), mechanism)
        self._on_ready()

    def _on_ready(self) -> None:
        stats = self.settings.stats
        if self.state == REAUTHENTICATING:
            took = self.clock() - self.setup_started_ms
            stats.reauthentications += 1
            stats.reauth_latency_sum_ms += took
            stats.reauth_latency_max_ms = max(stats.reauth_latency_max_ms, took)
            log.debug("Re-authenticated to %s in %.1f ms", self._name(), took)
        else:
            if self.state == AUTHENTICATING:
                stats.authentications += 1
            log.debug("Connected to %s", self._name())
        self.state = READY
        self._failures = 0
        self._notify()

    def _start_reauthentication(self, now: float) -> None:
        """KIP-368: a new SASL exchange on this connection, nothing else in flight.

        Needs SaslAuthenticate v1+ (the version that carries the session lifetime);
        without it the session is renewed by reconnecting."""
        if self.api_versions.get("SaslAuthenticate", 0) < 1:
            log.debug("SASL session with %s near expiry: reconnecting", self._name())
            self.close(None)
            return
        log.debug("SASL session with %s near expiry: re-authenticating", self._name())
        self.session_expiry_ms = 0.0
        self.setup_started_ms = now
        self.setup_deadline = now + self.settings.setup_timeout_ms
        self._start_sasl(REAUTHENTICATING)
        self._notify()
