"""The states of a broker connection (see :class:`~kprod._internals.connection.BrokerConnection`).

DISCONNECTED -> CONNECTING (TCP) -> [TLS_HANDSHAKE] -> HANDSHAKE (ApiVersions, KIP-511)
-> [AUTHENTICATING (SASL, KIP-152)] -> READY; READY -> REAUTHENTICATING (KIP-368) ->
READY. A connection that failed is CLOSED (its last error is kept); one closed without
an error (idle, or by its owner) is DISCONNECTED. Both may connect again after the
reconnect backoff.

A broker may also throttle a connection (KIP-219): :class:`Throttles`.
"""
from __future__ import annotations

from typing import Any, Dict

DISCONNECTED, CONNECTING, HANDSHAKE, READY, CLOSED = (
    "DISCONNECTED", "CONNECTING", "HANDSHAKE", "READY", "CLOSED")
TLS_HANDSHAKE, AUTHENTICATING = "TLS_HANDSHAKE", "AUTHENTICATING"
REAUTHENTICATING = "REAUTHENTICATING"     # KIP-368, on an established connection
_SETUP_STATES = (CONNECTING, TLS_HANDSHAKE, HANDSHAKE, AUTHENTICATING, REAUTHENTICATING)
_AUTH_STATES = (AUTHENTICATING, REAUTHENTICATING)

# KIP-219: from these response versions on, a broker over a quota answers at once with
# throttle_time_ms and mutes the connection meanwhile, so the client must send that
# broker nothing further until the time has passed (Java: each response's
# shouldClientThrottle). Below them, the broker delayed the response itself. APIs
# missing here never pause the client (PushTelemetry, SASL, as in Java).
THROTTLE_FROM_VERSION = {
    "Produce": 6, "Metadata": 6, "ListOffsets": 3, "FindCoordinator": 2,
    "ApiVersions": 2, "CreateTopics": 3, "DeleteTopics": 2, "DescribeConfigs": 2,
    "InitProducerId": 1, "AddPartitionsToTxn": 1, "AddOffsetsToTxn": 1, "EndTxn": 1,
    "TxnOffsetCommit": 1, "GetTelemetrySubscriptions": 0,
}


def client_should_throttle(api: str, version: int) -> bool:
    """Java ``AbstractResponse.shouldClientThrottle`` for ``api`` answered at ``version``."""
    first = THROTTLE_FROM_VERSION.get(api)
    return first is not None and version >= first


class Throttles:
    """Until when each broker throttles this client (Java's
    ``ClusterConnectionStates.throttle``): by node id, so a reconnect keeps it."""

    __slots__ = ("until_ms",)

    def __init__(self) -> None:
        self.until_ms: Dict[int, float] = {}

    def on_response(self, node_id: int, api: str, version: int, body: Any,
                    now: float) -> None:
        """A response arrived at ``now``: pause the node if it says so (KIP-219)."""
        throttle_ms = getattr(body, "throttle_time_ms", 0)
        if throttle_ms and throttle_ms > 0 and client_should_throttle(api, version):
            until = now + throttle_ms
            if until > self.until_ms.get(node_id, 0.0):     # a shorter one never shortens it
                self.until_ms[node_id] = until

    def delay_ms(self, node_id: int, now: float) -> float:
        """ms until ``node_id`` may be sent to again; 0 when it is not throttled."""
        until = self.until_ms.get(node_id)
        if until is None:
            return 0.0
        if until <= now:
            del self.until_ms[node_id]
            return 0.0
        return until - now

    def poll_delay_ms(self, node: Any, now: float) -> float:
        """Java ``pollDelayMs``: how long a node (a connection: node_id, state,
        next_attempt_ms) that is not ready stays so at least: its throttle, else its
        reconnect backoff; a connection being set up is waited for by I/O (inf)."""
        throttle = self.delay_ms(node.node_id, now)
        if throttle > 0:
            return throttle
        if node.state in (DISCONNECTED, CLOSED):
            return max(node.next_attempt_ms - now, 0.0)
        return float("inf")
