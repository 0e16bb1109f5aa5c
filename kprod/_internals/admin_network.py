"""Blocking request/response for the admin client, over the producer's network client.

The admin client has no I/O thread: each call drives a
:class:`~kprod._internals.network.NetworkClient` on the caller's thread (under one
lock) until its response arrives, so connections, TLS, SASL, ApiVersions
negotiation and the version table are the producer's own. A request that fails
with a retriable error (connection lost, request.timeout.ms, a broker's retriable
code handled by the caller) is retried with exponential backoff (KIP-580) until
the call's deadline; then the call raises :class:`~kprod.errors.KafkaTimeoutError`
naming what it waited for and the last error.
"""
from __future__ import annotations

import random
import threading
from typing import Any, List, Optional

from kprod._internals.backoff import exponential
from kprod._internals.connection import CLOSED, BrokerConnection
from kprod._internals.connection_settings import ConnectionSettings
from kprod._internals.metadata import Metadata
from kprod._internals.network import NetworkClient
from kprod._native.clock import monotonic_ms
from kprod.errors import (
    AuthenticationError,
    IllegalStateError,
    KafkaError,
    KafkaTimeoutError,
    RetriableError,
)

_POLL_MS = 100.0   # longest single wait, so a deadline is noticed promptly


class Deadline:
    """When one admin call must be done by (monotonic ms) and what it is, for errors."""

    __slots__ = ("at_ms", "timeout_ms", "what")

    def __init__(self, timeout_ms: float, what: str) -> None:
        self.at_ms = monotonic_ms() + timeout_ms
        self.timeout_ms = timeout_ms
        self.what = what

    def remaining_ms(self) -> float:
        return self.at_ms - monotonic_ms()

    def expired(self) -> bool:
        return self.remaining_ms() <= 0

    def timeout(self, last_error: Optional[BaseException] = None,
                detail: str = "") -> KafkaTimeoutError:
        cause = f" (last error: {last_error})" if last_error is not None else ""
        error = KafkaTimeoutError(f"{self.what}: not done after {self.timeout_ms:.0f} ms"
                                  f"{detail}{cause}")
        error.deadline = self   # type: ignore[attr-defined]
        return error


class AdminNetwork:
    """Requests to "any broker" (least loaded) or to one broker id, blocking."""

    def __init__(self, config: Any) -> None:
        # The admin client keeps one request per connection in flight (Java's admin
        # NetworkClient does the same); the producer setting it needs is fixed here.
        settings = ConnectionSettings(_WithInFlight(config, 1))
        self.metadata = Metadata(300000, config["retry.backoff.ms"], 300000)
        self.network = NetworkClient(settings, config["bootstrap.servers"], self.metadata,
                                     monotonic_ms)
        self.network.on_auth_failure = self._on_auth_failure
        self.retry_backoff_ms = config["retry.backoff.ms"]
        self.retry_backoff_max_ms = config["retry.backoff.max.ms"]
        self.retries = config["retries"]
        self._auth_error: Optional[BaseException] = None
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._closed = False

    def _on_auth_failure(self, error: BaseException) -> None:
        self._auth_error = error

    # -- requests -------------------------------------------------------------------
    def request(self, api: str, body: Any, deadline: Deadline,
                node_id: Optional[int] = None) -> Any:
        """The response body of ``api`` sent to ``node_id`` (None: any broker), retrying
        retriable failures until ``deadline``. Raises the first non-retriable error."""
        attempts = 0
        last_error: Optional[BaseException] = None
        while True:
            try:
                return self.request_once(api, body, deadline, node_id)
            except RetriableError as exc:
                if getattr(exc, "deadline", None) is deadline:
                    raise
                if deadline.expired():
                    raise deadline.timeout(exc) from exc
                last_error = exc
            attempts += 1
            if attempts > self.retries:
                raise last_error
            self.backoff(attempts - 1, deadline, last_error)

    def request_once(self, api: str, body: Any, deadline: Deadline,
                     node_id: Optional[int] = None) -> Any:
        """One attempt: wait for a ready connection, send, wait for the answer. Raises
        the connection's error (retriable ones included) or the deadline's timeout."""
        with self._lock:
            if self._closed:
                raise IllegalStateError("the admin client is closed")
            conn = self._ready_connection(node_id, deadline)
            outcome: List[Any] = []
            self.network.send(conn, api, body, lambda body, error: outcome.append((body, error)))
            while not outcome:
                remaining = deadline.remaining_ms()
                if remaining <= 0:
                    # Its answer would arrive for nobody: drop the connection instead.
                    conn.close(deadline.timeout(detail=f" (waiting for {api} from "
                                                f"{_name(conn)})"))
                    self._poll(0)
                    break
                self._poll(min(remaining, _POLL_MS))
            response, error = outcome[0]
            if error is not None:
                raise error
            return response

    def backoff(self, attempt: int, deadline: Deadline,
                last_error: Optional[BaseException]) -> None:
        """Wait ``retry.backoff.ms * 2^attempt`` (capped, jittered), within the deadline."""
        wait = exponential(self.retry_backoff_ms, attempt, self.retry_backoff_max_ms, self._rng)
        remaining = deadline.remaining_ms()
        if remaining <= 0:
            raise deadline.timeout(last_error)
        with self._lock:
            end = monotonic_ms() + min(wait, remaining)
            while not self._closed and monotonic_ms() < end:
                self._poll(min(end - monotonic_ms(), _POLL_MS))

    def _ready_connection(self, node_id: Optional[int], deadline: Deadline) -> BrokerConnection:
        last_error: Optional[BaseException] = None
        while True:
            if self._auth_error is not None:
                error, self._auth_error = self._auth_error, None
                raise error
            now = monotonic_ms()
            if node_id is None:
                conn = self.network.least_loaded(now)
            else:
                conn = self.network.connection(node_id)
                if conn is None:
                    raise KafkaError(f"{deadline.what}: broker {node_id} is not in the "
                                     f"cluster metadata")
                self.network.ready(conn, now)
            if conn is not None and self.network.can_send(conn, now):   # KIP-219 too
                return conn
            if node_id is not None and conn is not None and conn.state == CLOSED \
                    and conn.last_error is not None and not conn.can_connect(now):
                # This broker just failed (dead, restarting): end the attempt, so the
                # caller can ask the metadata again (a moved leader) instead of
                # waiting for this one until the deadline.
                raise conn.last_error
            for candidate in self.network.all_connections():
                if candidate.last_error is not None:
                    last_error = candidate.last_error
                    if isinstance(last_error, AuthenticationError):
                        candidate.last_error = None
                        raise last_error
            remaining = deadline.remaining_ms()
            if remaining <= 0:
                target = "any broker" if node_id is None else f"broker {node_id}"
                raise deadline.timeout(last_error, f" (no connection to {target})")
            self._poll(min(remaining, _POLL_MS))

    def _poll(self, timeout_ms: float) -> None:
        for response in self.network.poll(max(timeout_ms, 0.0), monotonic_ms()):
            response.complete()

    # -- metadata -------------------------------------------------------------------
    def update_metadata(self, response: Any) -> None:
        """Learn the brokers' addresses from a Metadata response (for ``node_id``)."""
        with self._lock:
            self.metadata.update(response, monotonic_ms())

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.network.close()


def _name(conn: BrokerConnection) -> str:
    return f"broker {conn.node_id} ({conn.host}:{conn.port})" if conn.node_id >= 0 \
        else f"{conn.host}:{conn.port}"


class _WithInFlight:
    """The admin config as ConnectionSettings reads it, plus the fixed in-flight limit."""

    def __init__(self, config: Any, max_in_flight: int) -> None:
        self._config = config
        self._max_in_flight = max_in_flight

    def __getitem__(self, name: str) -> Any:
        if name == "max.in.flight.requests.per.connection":
            return self._max_in_flight
        return self._config[name]

