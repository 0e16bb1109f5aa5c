"""KIP-714 client metrics push: the client side of GetTelemetrySubscriptions and
PushTelemetry, as a state machine with no I/O (the states of Java's
ClientTelemetryReporter).

The I/O thread asks :meth:`ClientTelemetry.next_request` for a request when one is
due and hands back the answer (:meth:`ClientTelemetry.on_response`);
:class:`TelemetrySender` is that thin loop over the network client. The broker's
subscription decides everything: the push interval, the metric-name prefixes
(``RequestedMetrics``: ``[]`` none, ``[""]`` all), the compression, the payload
limit and delta or cumulative sums. An empty subscription pushes nothing and is
asked for again after its interval. Broker errors follow KIP-714's table:
UNKNOWN_SUBSCRIPTION_ID and UNSUPPORTED_COMPRESSION_TYPE re-fetch the subscription
at once; INVALID_REQUEST, INVALID_RECORD and UNSUPPORTED_VERSION stop telemetry for
the producer's life (a client-side problem retrying cannot fix); anything else
(TELEMETRY_TOO_LARGE, THROTTLING_QUOTA_EXCEEDED, ...) re-fetches after the push
interval. A broker without the APIs (no ClientTelemetry plugin) stops it quietly.
close() sends one terminating push, bounded by the close timeout and
request.timeout.ms.
"""
from __future__ import annotations

import logging
import random
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple
from uuid import UUID

from kprod import compression
from kprod._internals import otlp
from kprod._internals.protocol import types
from kprod._internals.protocol.primitives import ZERO_UUID
from kprod._internals.protocol.structs import Struct
from kprod.errors import (
    InvalidRecordError, InvalidRequestError, UnknownSubscriptionIdError,
    UnsupportedCompressionTypeError, UnsupportedVersionError, error_for_code,
)

log = logging.getLogger("kprod.telemetry")

SUBSCRIPTION_NEEDED = "SUBSCRIPTION_NEEDED"
SUBSCRIPTION_IN_PROGRESS = "SUBSCRIPTION_IN_PROGRESS"
PUSH_NEEDED = "PUSH_NEEDED"
PUSH_IN_PROGRESS = "PUSH_IN_PROGRESS"
TERMINATING_PUSH_NEEDED = "TERMINATING_PUSH_NEEDED"
TERMINATING_PUSH_IN_PROGRESS = "TERMINATING_PUSH_IN_PROGRESS"
TERMINATED = "TERMINATED"

GET_SUBSCRIPTIONS = "GetTelemetrySubscriptions"
PUSH = "PushTelemetry"

#: Java's ClientTelemetryReporter.DEFAULT_PUSH_INTERVAL_MS: the wait after a failed
#: subscription request when the broker gave no interval.
DEFAULT_PUSH_INTERVAL_MS = 5 * 60 * 1000

# KIP-714 error table: a client-side problem, not fixed by retrying.
_STOP_CODES = frozenset({InvalidRequestError.code, InvalidRecordError.code,
                         UnsupportedVersionError.code})
_REFETCH_NOW_CODES = frozenset({UnknownSubscriptionIdError.code,
                                UnsupportedCompressionTypeError.code})
# The codecs kprod can write, by Kafka's compression type id.
_CODECS = frozenset({compression.GZIP, compression.SNAPPY, compression.LZ4,
                     compression.ZSTD})


class Sample(NamedTuple):
    """One metric value, named as KIP-714 names it (``org.apache.kafka.producer.…``)."""

    name: str
    value: float
    attributes: Tuple[Tuple[str, str], ...] = ()
    total: bool = False      # a monotonic total (a Sum), else a Gauge


class Subscription(NamedTuple):
    subscription_id: int
    compression_type: int
    push_interval_ms: int
    max_bytes: int
    delta: bool
    prefixes: Tuple[str, ...]

    def selects(self, name: str) -> bool:
        return any(name.startswith(prefix) for prefix in self.prefixes)


class TelemetryRequest(NamedTuple):
    api: str          # GET_SUBSCRIPTIONS or PUSH
    body: Struct


def choose_compression(accepted: Sequence[int]) -> int:
    """The first type the broker lists that kprod can write (the broker lists them
    in its order of preference), else none."""
    for codec in accepted:
        if codec in _CODECS:
            return codec
    return compression.NONE


class ClientTelemetry:
    """Subscription, push schedule and payloads of one producer (I/O thread only).

    ``collect`` returns the producer's current metrics; ``rng`` draws the first push's
    jitter and ``wall_clock_ns`` stamps the data points (both injectable for tests).
    Times passed in (``now``) are the producer's monotonic clock in ms.
    """

    def __init__(self, collect: Callable[[], Sequence[Sample]], retry_backoff_ms: float,
                 request_timeout_ms: float, rng: Callable[[], float] = random.random,
                 wall_clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.collect = collect
        self.retry_backoff_ms = retry_backoff_ms
        self.request_timeout_ms = request_timeout_ms
        self.rng = rng
        self.wall_clock_ns = wall_clock_ns
        self.state = SUBSCRIPTION_NEEDED
        self.client_instance_id: UUID = ZERO_UUID
        self.subscription: Optional[Subscription] = None
        self.next_due_ms = 0.0               # the first subscription request goes at once
        self.closing = False
        self.close_deadline_ms = float("inf")
        self.pushes = 0                      # successful pushes (diagnostics, tests)
        self.last_error: Optional[BaseException] = None
        self._start_ns = wall_clock_ns()
        self._last_push_ns = self._start_ns
        self._last_totals: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float] = {}

    # -- queries ----------------------------------------------------------------------
    @property
    def _sub(self) -> Subscription:
        """The current subscription (pushes and their answers only happen with one)."""
        sub = self.subscription
        assert sub is not None
        return sub

    @property
    def done(self) -> bool:
        return self.state == TERMINATED

    def time_to_next_ms(self, now: float) -> float:
        """How long the I/O thread may sleep before :meth:`next_request` has work."""
        state = self.state
        if state in (SUBSCRIPTION_NEEDED, PUSH_NEEDED):
            return max(self.next_due_ms - now, 0.0)
        if state == TERMINATING_PUSH_NEEDED:
            return 0.0
        if self.closing and state != TERMINATED:
            return max(self.close_deadline_ms - now, 0.0)
        return float("inf")

    # -- transitions ----------------------------------------------------------------------
    def next_request(self, now: float) -> Optional[TelemetryRequest]:
        """The request due now (the state moves to its IN_PROGRESS), or None."""
        if self.closing and now >= self.close_deadline_ms and self.state != TERMINATED:
            log.debug("Terminating telemetry push not completed within the close timeout")
            self.state = TERMINATED
            return None
        state = self.state
        if state == SUBSCRIPTION_NEEDED and now >= self.next_due_ms:
            self.state = SUBSCRIPTION_IN_PROGRESS
            return TelemetryRequest(GET_SUBSCRIPTIONS, types.GetTelemetrySubscriptionsRequest(
                client_instance_id=self.client_instance_id))
        if state == PUSH_NEEDED and now >= self.next_due_ms:
            body = self._push_body(terminating=False)
            if body is None:        # over the broker's limit: warned, try next interval
                self.next_due_ms = now + self._sub.push_interval_ms
                return None
            self.state = PUSH_IN_PROGRESS
            return TelemetryRequest(PUSH, body)
        if state == TERMINATING_PUSH_NEEDED:
            body = self._push_body(terminating=True)
            if body is None:
                self.state = TERMINATED
                return None
            self.state = TERMINATING_PUSH_IN_PROGRESS
            return TelemetryRequest(PUSH, body)
        return None

    def on_response(self, request: TelemetryRequest, response: Optional[Any],
                    error: Optional[BaseException], now: float) -> None:
        """The answer to ``request``: a response body, or the error that ended it
        (disconnect, timeout, a version the broker lacks)."""
        if self.state == TERMINATED:
            return            # stopped meanwhile (the close bound passed): nothing to do
        if request.api == GET_SUBSCRIPTIONS:
            self._on_subscription(response, error, now)
        elif getattr(request.body, "terminating", False):
            if error is None and response is not None and response.error_code != 0:
                error = error_for_code(response.error_code, PUSH)
            if error is not None:
                log.debug("Terminating telemetry push failed: %s", error)
            else:
                self.pushes += 1
            self.state = TERMINATED
        else:
            self._on_push(response, error, now)

    def unsupported(self) -> None:
        """The broker does not offer the telemetry APIs (no ClientTelemetry plugin, or
        too old): nothing to push, for the producer's life, as in Java."""
        log.debug("Broker does not support client telemetry (KIP-714); not pushing metrics")
        self.state = TERMINATED

    def initiate_close(self, now: float, timeout_ms: Optional[float] = None) -> None:
        """close(): one terminating push if a subscription wants metrics, within
        ``timeout_ms`` (default request.timeout.ms)."""
        if self.closing:
            return
        self.closing = True
        wait = self.request_timeout_ms if timeout_ms is None else min(timeout_ms,
                                                                      self.request_timeout_ms)
        self.close_deadline_ms = now + wait
        if self.state == PUSH_NEEDED:
            self.state = TERMINATING_PUSH_NEEDED
        elif self.state == SUBSCRIPTION_NEEDED:
            self.state = TERMINATED      # no valid subscription: nothing to push
        # *_IN_PROGRESS: decided when the answer comes (it sees ``closing``)

    # -- answers ----------------------------------------------------------------------
    def _on_subscription(self, response: Optional[types.GetTelemetrySubscriptionsResponse],
                         error: Optional[BaseException], now: float) -> None:
        if error is None and response is not None and response.error_code != 0:
            error = error_for_code(response.error_code, GET_SUBSCRIPTIONS)
        if error is not None:
            self._failed(error, now, broker_error=response is not None)
            return
        assert response is not None
        if self.client_instance_id == ZERO_UUID:
            self.client_instance_id = response.client_instance_id
        interval = response.push_interval_ms
        if interval <= 0:
            interval = DEFAULT_PUSH_INTERVAL_MS
        self.subscription = sub = Subscription(
            response.subscription_id, choose_compression(response.accepted_compression_types),
            interval, response.telemetry_max_bytes, response.delta_temporality,
            tuple(response.requested_metrics))
        log.debug("Telemetry subscription %d for client instance %s: every %d ms, %s",
                  sub.subscription_id, self.client_instance_id, interval,
                  list(sub.prefixes) or "no metrics")
        if self.closing:
            self.state = TERMINATING_PUSH_NEEDED if sub.prefixes else TERMINATED
            return
        if not sub.prefixes:
            # Nothing wanted now; the operator may add a subscription later.
            self.state = SUBSCRIPTION_NEEDED
            self.next_due_ms = now + interval
            return
        self.state = PUSH_NEEDED
        # Spread the first pushes of many clients (KIP-714: jitter the first push).
        self.next_due_ms = now + interval * (0.5 + self.rng())

    def _on_push(self, response: Optional[types.PushTelemetryResponse],
                 error: Optional[BaseException], now: float) -> None:
        if error is None:
            assert response is not None
            if response.error_code != 0:
                error = error_for_code(response.error_code, PUSH)
        if error is None:
            self.pushes += 1
            self.last_error = None
            if self.closing:
                self.state = TERMINATING_PUSH_NEEDED
            else:
                self.state = PUSH_NEEDED
                self.next_due_ms = now + self._sub.push_interval_ms
            return
        if response is None and not isinstance(error, UnsupportedVersionError):
            # Lost on the way (disconnect, timeout): same subscription, next interval.
            self.last_error = error
            log.debug("Telemetry push failed: %s", error)
            self.state = TERMINATING_PUSH_NEEDED if self.closing else PUSH_NEEDED
            self.next_due_ms = now + self._sub.push_interval_ms
            return
        self._failed(error, now, broker_error=True)

    def _failed(self, error: BaseException, now: float, broker_error: bool) -> None:
        self.last_error = error
        code = getattr(error, "code", None)
        if isinstance(error, UnsupportedVersionError) or code in _STOP_CODES:
            log.warning("Client telemetry stopped: %s", error)
            self.state = TERMINATED
            return
        if self.closing:
            self.state = TERMINATED
            return
        self.state = SUBSCRIPTION_NEEDED
        if code in _REFETCH_NOW_CODES:
            self.next_due_ms = now
        elif broker_error:
            interval = (self.subscription.push_interval_ms if self.subscription is not None
                        else DEFAULT_PUSH_INTERVAL_MS)
            log.debug("Telemetry request failed (%s); subscription again in %d ms",
                      error, interval)
            self.next_due_ms = now + interval
        else:
            # No answer (disconnect, timeout): the broker said nothing against retrying.
            self.next_due_ms = now + self.retry_backoff_ms

    # -- payload ----------------------------------------------------------------------
    def _push_body(self, terminating: bool) -> Optional[types.PushTelemetryRequest]:
        sub = self._sub
        payload = self.encode(self.collect())
        codec = sub.compression_type
        if codec != compression.NONE:
            compressed = bytes(compression.compress(codec, payload))
            if len(compressed) < len(payload):
                payload = compressed
            else:
                codec = compression.NONE      # incompressible: send it as is
        if sub.max_bytes > 0 and len(payload) > sub.max_bytes:
            log.warning("Telemetry payload of %d bytes is over the broker's limit of %d "
                        "(telemetry.max.bytes); not pushed", len(payload), sub.max_bytes)
            return None
        return types.PushTelemetryRequest(
            client_instance_id=self.client_instance_id, subscription_id=sub.subscription_id,
            terminating=terminating, compression_type=codec, metrics=payload)

    def encode(self, samples: Sequence[Sample]) -> bytes:
        """The selected samples as an OTLP MetricsData payload (uncompressed). With
        delta temporality a total is sent as its change since the previous payload."""
        sub = self._sub
        now_ns = self.wall_clock_ns()
        grouped: Dict[str, List[Sample]] = {}
        for sample in samples:
            if sub.selects(sample.name):
                grouped.setdefault(sample.name, []).append(sample)
        metrics = []
        for name, group in grouped.items():
            points = []
            total = group[0].total
            for sample in group:
                value, start = sample.value, self._start_ns
                if total and sub.delta:
                    key = (name, sample.attributes)
                    value = sample.value - self._last_totals.get(key, 0.0)
                    self._last_totals[key] = sample.value
                    start = self._last_push_ns
                points.append(otlp.Point(sample.attributes, value,
                                         start if total else 0, now_ns))
            metrics.append(otlp.Metric(name, "", "", points, sum=total,
                                       temporality=otlp.DELTA if sub.delta else otlp.CUMULATIVE))
        self._last_push_ns = now_ns
        return otlp.encode_metrics_data(metrics, {})


class TelemetrySender:
    """The I/O thread's side: send what :class:`ClientTelemetry` wants to the
    least-loaded broker and route the answer back. ``maybe_send(now)`` once per loop
    turn returns how long the loop may sleep for telemetry's sake (answers are handled
    from the loop's poll, and the next turn asks again)."""

    def __init__(self, telemetry: ClientTelemetry, network) -> None:
        self.telemetry = telemetry
        self.network = network
        # When the state machine next has work: its state moves only in this class's
        # calls (a request, its answer, close), so between them a turn reads one float
        # instead of asking (twice per Produce request, on cold caches). Not while no
        # connection is ready: one may be at the next turn.
        self._due_ms = 0.0

    @property
    def done(self) -> bool:
        return self.telemetry.done

    def initiate_close(self, now: float, timeout_ms: Optional[float] = None) -> None:
        self.telemetry.initiate_close(now, timeout_ms)
        self._due_ms = 0.0

    def maybe_send(self, now: float) -> float:
        if now < self._due_ms:
            return self._due_ms - now
        return self._maybe_send(now)

    def _maybe_send(self, now: float) -> float:
        telemetry = self.telemetry
        wait = telemetry.time_to_next_ms(now)
        if wait > 0:
            self._due_ms = now + wait
            return wait
        conn = None
        if telemetry.state in (SUBSCRIPTION_NEEDED, PUSH_NEEDED, TERMINATING_PUSH_NEEDED):
            conn = self.network.least_loaded(now)
            if conn is None:
                if telemetry.closing and now >= telemetry.close_deadline_ms:
                    telemetry.next_request(now)       # gives up: TERMINATED
                # Not cached: a connection may be ready at the next turn.
                return 50.0 if not telemetry.done else float("inf")
            if GET_SUBSCRIPTIONS not in conn.api_versions or PUSH not in conn.api_versions:
                telemetry.unsupported()
                self._due_ms = float("inf")
                return float("inf")
        request = telemetry.next_request(now)
        if request is not None and conn is not None:
            clock = self.network.clock

            def on_response(response, error, request=request):
                telemetry.on_response(request, response, error, clock())
                self._due_ms = 0.0          # the state moved: ask again

            self.network.send(conn, request.api, request.body, on_response)
        wait = telemetry.time_to_next_ms(now)
        self._due_ms = now + wait
        return wait
