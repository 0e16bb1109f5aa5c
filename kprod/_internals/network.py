"""The network client (Java's ``NetworkClient``): every broker connection of one
producer, driven by the I/O thread.

It owns the selector and its wake-up pipe, the connections (bootstrap servers and
the brokers metadata names), bootstrap and rebootstrap (KIP-899), the choice of the
least-loaded node, the negotiated versions (one table, from ``protocol.messages``)
and in-flight accounting. It also keeps metadata fresh (Java's
``DefaultMetadataUpdater``). The Sender decides what to send and handles what
comes back; it never touches a socket.

Requests complete through :meth:`poll`: ``send(conn, api, body, handler)`` queues the
request, and the poll that sees its response, its failure or its connection's close
returns a :class:`ClientResponse`; the caller runs ``complete()`` on each, so
handlers never run inside a connection's read or write.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from kprod._internals import protocol as proto
from kprod._internals.connection import (
    CLOSED, DISCONNECTED, BrokerConnection, ConnectionSettings,
)
from kprod._internals.connection_settings import canonical_bootstrap
from kprod._internals.connection_states import Throttles
from kprod._internals.metadata import Metadata
from kprod._internals.protocol import types
from kprod._internals.selector import ConnectionSelector
from kprod._native.requests import ClientResponse

log = logging.getLogger("kprod.network")

ResponseHandler = Callable[[Optional[Any], Optional[BaseException]], None]

# The versions kprod asks brokers for: what protocol/messages implements, except where
# the client needs more than the codec. Metadata below v4 creates topics on any request
# (no allow_auto_topic_creation); AddPartitionsToTxn v4+ is the brokers' own batched
# verify form (KIP-890), which a broker does not answer for a client.
CLIENT_VERSIONS: Dict[str, Tuple[int, int]] = {api.name: api.supported for api in proto.APIS}
CLIENT_VERSIONS["Produce"] = (3, 13)     # v13 (KIP-516) only when every topic has an id
CLIENT_VERSIONS["Metadata"] = (4, 12)
CLIENT_VERSIONS["AddPartitionsToTxn"] = (0, 3)


class NetworkClient:
    def __init__(self, settings: ConnectionSettings, bootstrap_servers: Iterable[str],
                 metadata: Metadata, clock: Callable[[], float],
                 versions: Optional[Dict[str, Tuple[int, int]]] = None) -> None:
        self.settings = settings
        self.metadata = metadata
        self.clock = clock
        self.versions = versions or CLIENT_VERSIONS
        self.request_timeout_ms = settings.request_timeout_ms
        self.selector = ConnectionSelector(clock)
        self.wakeup = self.selector.wakeup          # any thread
        self.wake_at = self.selector.wake_at        # any thread, with the GIL
        self.connections: Dict[int, BrokerConnection] = {}
        self.bootstrap: List[BrokerConnection] = []
        if not settings.use_all_dns_ips:     # resolve_canonical_bootstrap_servers_only
            bootstrap_servers = canonical_bootstrap(bootstrap_servers)
        for i, server in enumerate(bootstrap_servers):
            host, _, port = server.rpartition(":")
            self.bootstrap.append(self._new_connection(-(i + 1), host.strip("[]"), int(port)))
        # Set by the owner: credentials refused (retrying cannot help) / a connection
        # became ready (its negotiated versions and features are known).
        self.on_auth_failure: Optional[Callable[[BaseException], None]] = None
        self.on_ready: Optional[Callable[[BrokerConnection], None]] = None
        self._completed: List[ClientResponse] = []
        self._metadata_in_flight = False
        # metadata.recovery.strategy (KIP-899) and its trigger (KIP-1102): when metadata
        # is wanted but no known broker gave it for trigger_ms, ask bootstrap.servers.
        self.rebootstrap_enabled = settings.rebootstrap
        self.rebootstrap_trigger_ms = settings.rebootstrap_trigger_ms
        self._metadata_wanted_ms: Optional[float] = None   # an update due since
        self._rebootstrapping = False
        # The last failure of each connection since it was last ready (error causes).
        self.last_failures: Dict[int, Tuple[str, BaseException]] = {}
        # Brokers that throttle this client (KIP-219): not ready until the time passed.
        self.throttles = Throttles()
        # poll()'s connection timeouts, checked only once due (see _check_timeouts).
        self._timeouts_due_ms = 0.0
        self._timeouts_wake_ms = 0.0

    @property
    def wake_deadline(self) -> Optional[float]:
        """See :class:`~kprod._internals.selector.ConnectionSelector` (``wake_deadline``)."""
        return self.selector.wake_deadline

    # -- connections -----------------------------------------------------------------
    def _new_connection(self, node_id: int, host: str, port: int) -> BrokerConnection:
        conn = BrokerConnection(node_id, host, port, self.settings, self.clock, self.versions)
        self.selector.watch(conn, self._on_state_change)
        conn.on_auth_failure = self._on_auth_failure
        conn.on_setup_response = lambda api, version, body: self.throttles.on_response(
            node_id, api, version, body, self.clock())
        return conn

    def _on_auth_failure(self, error: BaseException) -> None:
        if self.on_auth_failure is not None:
            self.on_auth_failure(error)

    def _on_state_change(self, conn: BrokerConnection) -> None:
        self._timeouts_due_ms = 0.0      # new deadlines (setup, session): check again
        if conn.last_error is not None:
            self.last_failures[conn.node_id] = (f"{conn.host}:{conn.port}", conn.last_error)
        elif conn.ready:
            self.last_failures.pop(conn.node_id, None)
        if conn.last_error is not None and conn.node_id >= 0:
            self.metadata.request_update()
        if conn.ready and self.on_ready is not None:
            self.on_ready(conn)

    def failures(self) -> List[Tuple[str, BaseException]]:
        """``(host:port, error)``: the last failure of each broker not ready since (the
        bootstrap servers first), for errors that say why no broker answered."""
        ordered = sorted(self.last_failures.items(), key=lambda item: (item[0] >= 0,
                                                                        abs(item[0])))
        return [failure for _, failure in ordered]

    def all_connections(self) -> List[BrokerConnection]:
        return list(self.connections.values()) + self.bootstrap

    def connection(self, node_id: int) -> Optional[BrokerConnection]:
        """The connection to broker ``node_id`` as metadata knows it (made on first use;
        replaced when the broker's address changed and nothing is in flight)."""
        conn = self.connections.get(node_id)
        broker = self.metadata.snapshot.brokers.get(node_id)
        if conn is None:
            if broker is None:
                return None
        elif broker is None or (conn.host == broker.host and conn.port == broker.port) \
                or conn.in_flight:
            return conn
        else:
            conn.close(None)
            self.selector.forget(conn)
        conn = self.connections[node_id] = self._new_connection(node_id, broker.host,
                                                                broker.port)
        return conn

    def coordinator(self, node_id: int, host: str, port: int,
                    now: float) -> BrokerConnection:
        """The connection to a coordinator FindCoordinator named (metadata may not list
        it yet), connecting if needed."""
        conn = self.connections.get(node_id) or self.connection(node_id)
        if conn is None:
            conn = self.connections[node_id] = self._new_connection(node_id, host, port)
        self.ready(conn, now)
        return conn

    def ready(self, conn: BrokerConnection, now: float) -> bool:
        """Java ``NetworkClient.ready``: start connecting if allowed; True once ready
        and not throttled (KIP-219)."""
        if conn.ready:
            return self.throttles.delay_ms(conn.node_id, now) <= 0
        if conn.can_connect(now):
            conn.connect(now)
        return conn.ready

    def can_send(self, conn: BrokerConnection, now: float) -> bool:
        """Java ``canSendRequest``: ready, not throttled, room for another request."""
        return conn.can_send_more() and self.throttles.delay_ms(conn.node_id, now) <= 0

    def saturated(self) -> bool:
        """Every broker metadata lists has a ready connection with as many requests in
        flight as it may have (Java's canSendMore is False on each): a response is on
        its way on every one, and the loop turn it ends scans the queues."""
        brokers = self.metadata.snapshot.brokers
        if not brokers:
            return False
        for node_id in brokers:
            conn = self.connections.get(node_id)
            if conn is None or not conn.ready or not conn.in_flight or conn.can_send_more():
                return False
        return True

    def poll_delay_ms(self, conn: BrokerConnection, now: float) -> float:
        """Java ``pollDelayMs`` (see Throttles.poll_delay_ms)."""
        return self.throttles.poll_delay_ms(conn, now)

    def least_loaded(self, now: float) -> Optional[BrokerConnection]:
        """A ready connection with the fewest in-flight requests, else start one."""
        candidates = list(self.connections.values())
        brokers = self.metadata.snapshot.brokers
        if self._rebootstrapping:
            candidates = list(self.bootstrap)
        elif not any(c.node_id >= 0 for c in candidates) or not brokers:
            candidates += self.bootstrap
        else:
            for node_id in brokers:
                conn = self.connection(node_id)
                if conn is not None and conn not in candidates:
                    candidates.append(conn)
        ready = [c for c in candidates if self.can_send(c, now)]
        if ready:
            return min(ready, key=lambda c: len(c.in_flight))
        if any(c.state not in (DISCONNECTED, CLOSED) for c in candidates):
            return None          # a connection is being set up
        for conn in sorted(candidates, key=lambda c: c.next_attempt_ms):
            if conn.can_connect(now):
                conn.connect(now)
                return conn if conn.ready else None
        if self.rebootstrap_enabled and all(c.state == CLOSED for c in candidates) \
                and not self.bootstrap[0].sock:
            # Rebootstrap (KIP-899): every known broker is failing, try the bootstrap list.
            for conn in self.bootstrap:
                if conn.can_connect(now):
                    conn.connect(now)
                    break
        return None

    # -- requests ----------------------------------------------------------------------
    def send(self, conn: BrokerConnection, api: str, body: Any, handler: ResponseHandler,
             expect_response: bool = True) -> None:
        """Queue a request on a ready connection; a later :meth:`poll` returns its
        outcome (also when the request fails or the connection closes)."""
        response = ClientResponse(handler, self._completed, conn.node_id, api)
        request = conn.send(api, body, response.arrived, expect_response)
        response.version = request.version
        due = request.sent_ms + self.request_timeout_ms     # its request.timeout.ms
        if due < self._timeouts_wake_ms:
            self._timeouts_wake_ms = due
        if due < self._timeouts_due_ms:
            self._timeouts_due_ms = due

    def poll(self, timeout_ms: float, now: float) -> List[ClientResponse]:
        """Expire connection timeouts, wait up to ``timeout_ms`` for I/O, and return the
        requests completed since the last poll (in completion order)."""
        if now >= self._timeouts_due_ms:
            self._check_timeouts(now)
        timeout_ms = min(timeout_ms, max(self._timeouts_wake_ms - now, 0.0))
        if self._completed:
            timeout_ms = 0.0        # something finished already (a send or a timeout failed)
        self.selector.poll(timeout_ms)
        completed = self._completed
        if not completed:
            return []
        done = completed[:]       # the list itself stays: pending responses append to it
        completed.clear()
        now = self.clock()
        throttles = self.throttles
        for response in done:
            if response.body is not None:
                throttles.on_response(response.node_id, response.api, response.version,
                                      response.body, now)
        return done

    def _check_timeouts(self, now: float) -> None:
        """Every connection's timeouts (setup, request.timeout.ms, session expiry, idle),
        and when to look again. Those deadlines only move later as requests complete
        and I/O happens; a new one comes with a state change or a request (both lower
        the cached times), so between them poll() skips the walk (it runs twice per
        request, and cold caches make every call count)."""
        wake = due = self._timeouts_due_ms = float("inf")
        for conn in self.all_connections():
            conn.check_timeouts(now)
            deadline = now + conn.next_timeout_ms(now)
            if deadline < wake:
                wake = deadline
            idle = conn.idle_deadline_ms()
            if idle < due:
                due = idle
        self._timeouts_wake_ms = wake
        # (a state change during the walk reset it to 0: then look again next time)
        self._timeouts_due_ms = min(self._timeouts_due_ms, wake, due)

    # -- metadata ------------------------------------------------------------------------
    def maybe_update_metadata(self, now: float,
                              topics_in_use: Callable[[], Iterable[str]]) -> float:
        """Send a Metadata request when one is due; returns ms until the next check."""
        md = self.metadata
        wait = md.time_to_next_update(now)
        if wait <= 0 and self._metadata_wanted_ms is None:
            self._metadata_wanted_ms = now
        if wait > 0 or self._metadata_in_flight:
            return wait if wait > 0 else 1000.0
        assert self._metadata_wanted_ms is not None   # set above: wait <= 0 here
        if self.rebootstrap_enabled and not self._rebootstrapping and md.snapshot.brokers \
                and now - self._metadata_wanted_ms >= self.rebootstrap_trigger_ms:
            log.info("No metadata for %.0f ms (metadata.recovery.rebootstrap.trigger.ms): "
                     "rebootstrapping from bootstrap.servers", now - self._metadata_wanted_ms)
            self._rebootstrapping = True
        conn = self.least_loaded(now)
        if conn is None:
            return 50.0
        topics = md.topics_to_fetch(topics_in_use())
        body = types.MetadataRequest(
            topics=[types.MetadataRequestTopic(name=t) for t in topics],
            allow_auto_topic_creation=True, include_topic_authorized_operations=False)
        self._metadata_in_flight = True
        md.last_attempt_ms = now
        self.send(conn, "Metadata", body, self._on_metadata)
        return float(self.request_timeout_ms)

    def _on_metadata(self, response: Optional[Any], error: Optional[BaseException]) -> None:
        self._metadata_in_flight = False
        if error is not None:
            log.debug("Metadata request failed: %s", error)
            self.metadata.request_update()
            return
        assert response is not None      # no error: the broker answered
        self.metadata.update(response, self.clock())
        self._metadata_wanted_ms = None
        self._rebootstrapping = False
        for node_id in self.metadata.snapshot.brokers:
            self.connection(node_id)

    # -- shutdown ------------------------------------------------------------------------
    def close(self) -> None:
        for conn in self.all_connections():
            self.selector.forget(conn)
            if conn.sock is not None:
                conn.close(None)
        self._completed.clear()
        self.selector.close()
