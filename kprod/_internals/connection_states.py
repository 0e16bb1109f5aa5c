"""The states of a broker connection (see :class:`~kprod._internals.connection.BrokerConnection`).

DISCONNECTED -> CONNECTING (TCP) -> [TLS_HANDSHAKE] -> HANDSHAKE (ApiVersions, KIP-511)
-> [AUTHENTICATING (SASL, KIP-152)] -> READY; READY -> REAUTHENTICATING (KIP-368) ->
READY. A connection that failed is CLOSED (its last error is kept); one closed without
an error (idle, or by its owner) is DISCONNECTED. Both may connect again after the
reconnect backoff.
"""
from __future__ import annotations

DISCONNECTED, CONNECTING, HANDSHAKE, READY, CLOSED = (
    "DISCONNECTED", "CONNECTING", "HANDSHAKE", "READY", "CLOSED")
TLS_HANDSHAKE, AUTHENTICATING = "TLS_HANDSHAKE", "AUTHENTICATING"
REAUTHENTICATING = "REAUTHENTICATING"     # KIP-368, on an established connection
_SETUP_STATES = (CONNECTING, TLS_HANDSHAKE, HANDSHAKE, AUTHENTICATING, REAUTHENTICATING)
_AUTH_STATES = (AUTHENTICATING, REAUTHENTICATING)
