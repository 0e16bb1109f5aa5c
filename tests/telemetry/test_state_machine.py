"""ClientTelemetry (KIP-714) with scripted broker answers: subscription, jittered first
push, selectors, compression, errors of KIP-714's table, the terminating push on
close and its bound. No broker, no sleeps; every request and answer goes through the
generated codec, as on the wire."""
from __future__ import annotations

import uuid

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, MetricsData

from kprod import compression
from kprod._internals import protocol as proto
from kprod._internals.connection_states import DISCONNECTED, READY
from kprod._internals.protocol import types as T
from kprod._internals.protocol.primitives import ZERO_UUID
from kprod._internals.telemetry import (
    DEFAULT_PUSH_INTERVAL_MS, PUSH, PUSH_IN_PROGRESS, PUSH_NEEDED, SUBSCRIPTION_IN_PROGRESS,
    SUBSCRIPTION_NEEDED, TERMINATED, TERMINATING_PUSH_IN_PROGRESS, ClientTelemetry, Sample,
    TelemetrySender, choose_compression,
)
from kprod.errors import (
    InvalidRecordError, InvalidRequestError, KafkaConnectionError, TelemetryTooLargeError,
    ThrottlingQuotaExceededError, UnknownSubscriptionIdError, UnsupportedCompressionTypeError,
    UnsupportedVersionError,
)

from ..fakes import FakeNetworkClient, ManualClock

INSTANCE = uuid.UUID("6f1c1f0e-2a51-4a3e-9d0a-2b7c4c3b0001")
PRODUCER = "org.apache.kafka.producer."


class Metrics:
    """What the producer would report; tests change the values between pushes."""

    def __init__(self) -> None:
        self.samples = [
            Sample(PRODUCER + "record.queue.time.avg", 2.5),
            Sample(PRODUCER + "record.queue.time.max", 9.0),
            Sample(PRODUCER + "record.send.total", 10.0, total=True),
            Sample(PRODUCER + "node.request.latency.avg", 1.5, (("node_id", "node-1"),)),
            Sample(PRODUCER + "node.request.latency.avg", 3.5, (("node_id", "node-2"),)),
            Sample("org.apache.kafka.other.thing", 1.0),
        ]

    def __call__(self):
        return list(self.samples)


@pytest.fixture
def clock():
    return ManualClock(1000.0)


@pytest.fixture
def metrics():
    return Metrics()


@pytest.fixture
def tel(clock, metrics):
    wall = iter(range(10**18, 10**18 + 10**12, 10**9))      # 1 s per reading
    return ClientTelemetry(metrics, retry_backoff_ms=100, request_timeout_ms=30000,
                           rng=lambda: 0.25, wall_clock_ns=lambda: next(wall))


def wire(api, request, response):
    """Encode the request and the answer as the connection would, decode the answer."""
    version = proto.SUPPORTED_VERSIONS[proto.API_KEYS[api]][1]
    proto.encode_request(api, version, 1, "c", request.body)
    _, decoded = proto.decode_response(api, version,
                                       proto.encode_response(api, version, 1, response))
    return decoded


def subscription(**fields):
    values = dict(error_code=0, client_instance_id=INSTANCE, subscription_id=11,
                  accepted_compression_types=[compression.ZSTD, compression.LZ4],
                  push_interval_ms=1000, telemetry_max_bytes=1 << 20,
                  delta_temporality=False, requested_metrics=[PRODUCER + "record."])
    values.update(fields)
    return T.GetTelemetrySubscriptionsResponse(**values)


def answer(tel, clock, response=None, error=None, api=None):
    request = tel.next_request(clock())
    assert request is not None, tel.state
    if api is not None:
        assert request.api == api
    if response is not None:
        response = wire(request.api, request, response)
    tel.on_response(request, response, error, clock())
    return request


def subscribe(tel, clock, **fields):
    return answer(tel, clock, subscription(**fields), api="GetTelemetrySubscriptions")


def decode_push(request) -> MetricsData:
    body = request.body
    payload = bytes(body.metrics)
    if body.compression_type != compression.NONE:
        payload = bytes(compression.decompress(body.compression_type, payload))
    data = MetricsData()
    data.ParseFromString(payload)
    return data


def pushed(request):
    """{name: [(attributes, value, kind)]} of a push."""
    out = {}
    for metric in decode_push(request).resource_metrics[0].scope_metrics[0].metrics:
        kind = metric.WhichOneof("data")
        for point in getattr(metric, kind).data_points:
            attrs = tuple((a.key, a.value.string_value) for a in point.attributes)
            out.setdefault(metric.name, []).append((attrs, point.as_double, kind))
    return out


def push_ok():
    return T.PushTelemetryResponse(error_code=0)


def push_error(cls):
    return T.PushTelemetryResponse(error_code=cls.code)


def test_first_request_asks_for_a_subscription_with_a_zero_id(tel, clock):
    assert tel.time_to_next_ms(clock()) == 0
    request = tel.next_request(clock())
    assert request.api == "GetTelemetrySubscriptions"
    assert request.body.client_instance_id == ZERO_UUID
    assert tel.state == SUBSCRIPTION_IN_PROGRESS
    assert tel.next_request(clock()) is None            # one at a time


def test_subscription_then_jittered_first_push_then_interval(tel, clock):
    subscribe(tel, clock)
    assert tel.client_instance_id == INSTANCE
    assert tel.state == PUSH_NEEDED
    # rng 0.25: first push at (0.5 + 0.25) x 1000 ms
    assert tel.time_to_next_ms(clock()) == 750
    clock.advance(749)
    assert tel.next_request(clock()) is None
    clock.advance(1)
    request = answer(tel, clock, push_ok(), api=PUSH)
    body = request.body
    assert (body.client_instance_id, body.subscription_id, body.terminating) == (
        INSTANCE, 11, False)
    assert body.compression_type == compression.ZSTD    # the broker's first choice
    assert tel.state == PUSH_NEEDED and tel.pushes == 1
    assert tel.time_to_next_ms(clock()) == 1000         # then every push interval
    # Only names under the subscribed prefix "org.apache.kafka.producer.record."
    assert set(pushed(request)) == {PRODUCER + "record.queue.time.avg",
                                    PRODUCER + "record.queue.time.max",
                                    PRODUCER + "record.send.total"}


def test_selectors_all_and_several_prefixes(tel, clock):
    subscribe(tel, clock, requested_metrics=[""])
    clock.advance(750)
    everything = pushed(answer(tel, clock, push_ok()))
    assert len(everything) == 5
    assert everything[PRODUCER + "node.request.latency.avg"] == [
        ((("node_id", "node-1"),), 1.5, "gauge"), ((("node_id", "node-2"),), 3.5, "gauge")]
    assert everything[PRODUCER + "record.send.total"] == [((), 10.0, "sum")]


def test_cumulative_and_delta_sums(clock, metrics):
    for delta, expected in ((False, [10.0, 25.0]), (True, [10.0, 15.0])):
        tel = ClientTelemetry(metrics, 100, 30000, rng=lambda: 0.0)
        metrics.samples[2] = Sample(PRODUCER + "record.send.total", 10.0, total=True)
        subscribe(tel, clock, delta_temporality=delta,
                  requested_metrics=[PRODUCER + "record.send.total"])
        values = []
        for _ in range(2):
            clock.advance(1000)
            request = answer(tel, clock, push_ok())
            (metric,) = decode_push(request).resource_metrics[0].scope_metrics[0].metrics
            assert metric.sum.is_monotonic
            assert metric.sum.aggregation_temporality == AggregationTemporality.Value(
                "AGGREGATION_TEMPORALITY_DELTA" if delta else
                "AGGREGATION_TEMPORALITY_CUMULATIVE")
            point = metric.sum.data_points[0]
            assert 0 < point.start_time_unix_nano <= point.time_unix_nano
            values.append(point.as_double)
            metrics.samples[2] = Sample(PRODUCER + "record.send.total", 25.0, total=True)
        assert values == expected


def test_empty_subscription_pushes_nothing_and_asks_again_after_its_interval(tel, clock):
    subscribe(tel, clock, requested_metrics=[], push_interval_ms=5000)
    assert tel.state == SUBSCRIPTION_NEEDED
    assert tel.time_to_next_ms(clock()) == 5000
    clock.advance(4999)
    assert tel.next_request(clock()) is None
    clock.advance(1)
    request = tel.next_request(clock())
    assert request.api == "GetTelemetrySubscriptions"
    assert request.body.client_instance_id == INSTANCE   # keeps its id


def test_unknown_subscription_id_refetches_at_once_and_uses_the_new_one(tel, clock):
    subscribe(tel, clock)
    clock.advance(750)
    answer(tel, clock, push_error(UnknownSubscriptionIdError))
    assert tel.state == SUBSCRIPTION_NEEDED and tel.time_to_next_ms(clock()) == 0
    request = subscribe(tel, clock, subscription_id=12, requested_metrics=[""],
                        client_instance_id=ZERO_UUID)
    assert request.body.client_instance_id == INSTANCE
    assert tel.client_instance_id == INSTANCE
    clock.advance(750)
    push = answer(tel, clock, push_ok())
    assert push.body.subscription_id == 12
    assert len(pushed(push)) == 5                     # the new selectors apply


def test_unsupported_compression_refetches_at_once(tel, clock):
    subscribe(tel, clock)
    clock.advance(750)
    answer(tel, clock, push_error(UnsupportedCompressionTypeError))
    assert tel.state == SUBSCRIPTION_NEEDED and tel.time_to_next_ms(clock()) == 0
    subscribe(tel, clock, accepted_compression_types=[])
    clock.advance(750)
    assert answer(tel, clock, push_ok()).body.compression_type == compression.NONE


@pytest.mark.parametrize("error", [TelemetryTooLargeError, ThrottlingQuotaExceededError])
def test_other_push_errors_resubscribe_after_the_interval(tel, clock, error):
    subscribe(tel, clock, push_interval_ms=2000)
    clock.advance(1500)
    answer(tel, clock, push_error(error))
    assert isinstance(tel.last_error, error)
    assert tel.state == SUBSCRIPTION_NEEDED
    assert tel.time_to_next_ms(clock()) == 2000


@pytest.mark.parametrize("error", [InvalidRecordError, InvalidRequestError,
                                   UnsupportedVersionError])
def test_client_side_errors_stop_telemetry(tel, clock, error):
    subscribe(tel, clock)
    clock.advance(750)
    answer(tel, clock, push_error(error))
    assert tel.state == TERMINATED and tel.done
    clock.advance(10**9)
    assert tel.next_request(clock()) is None
    tel.initiate_close(clock())
    assert tel.next_request(clock()) is None            # no terminating push either


def test_subscription_errors(tel, clock):
    # A broker error other than the stopping ones: ask again after the default interval.
    answer(tel, clock, T.GetTelemetrySubscriptionsResponse(
        error_code=ThrottlingQuotaExceededError.code))
    assert tel.state == SUBSCRIPTION_NEEDED
    assert tel.time_to_next_ms(clock()) == DEFAULT_PUSH_INTERVAL_MS
    # No answer at all (the connection dropped): retry after retry.backoff.ms.
    clock.advance(DEFAULT_PUSH_INTERVAL_MS)
    answer(tel, clock, error=KafkaConnectionError("closed by peer"))
    assert tel.state == SUBSCRIPTION_NEEDED and tel.time_to_next_ms(clock()) == 100
    # UNSUPPORTED_VERSION in the answer: stop.
    clock.advance(100)
    answer(tel, clock, T.GetTelemetrySubscriptionsResponse(
        error_code=UnsupportedVersionError.code))
    assert tel.done


def test_lost_push_keeps_the_subscription(tel, clock):
    subscribe(tel, clock)
    clock.advance(750)
    answer(tel, clock, error=KafkaConnectionError("closed by peer"))
    assert tel.state == PUSH_NEEDED and tel.time_to_next_ms(clock()) == 1000


def test_close_sends_one_terminating_push(tel, clock):
    subscribe(tel, clock)
    tel.initiate_close(clock())
    assert tel.time_to_next_ms(clock()) == 0           # at once, not at the interval
    request = tel.next_request(clock())
    assert request.api == PUSH and request.body.terminating
    assert request.body.subscription_id == 11
    assert PRODUCER + "record.send.total" in pushed(request)
    assert tel.state == TERMINATING_PUSH_IN_PROGRESS
    tel.on_response(request, wire(PUSH, request, push_ok()), None, clock())
    assert tel.done and tel.pushes == 1
    assert tel.next_request(clock()) is None


def test_close_during_a_push_terminates_after_its_answer(tel, clock):
    subscribe(tel, clock)
    clock.advance(750)
    request = tel.next_request(clock())
    assert tel.state == PUSH_IN_PROGRESS
    tel.initiate_close(clock())
    tel.on_response(request, wire(PUSH, request, push_ok()), None, clock())
    terminating = tel.next_request(clock())
    assert terminating.body.terminating


def test_close_during_the_subscription_request(tel, clock):
    request = tel.next_request(clock())
    tel.initiate_close(clock())
    tel.on_response(request, wire(request.api, request, subscription()), None, clock())
    assert tel.next_request(clock()).body.terminating


def test_close_without_a_subscription_pushes_nothing(tel, clock):
    tel.initiate_close(clock())
    assert tel.done and tel.next_request(clock()) is None


def test_terminating_push_is_bounded(tel, clock):
    subscribe(tel, clock)
    tel.initiate_close(clock(), timeout_ms=2000)
    tel.next_request(clock())                           # never answered
    assert tel.time_to_next_ms(clock()) == 2000
    clock.advance(2000)
    assert tel.next_request(clock()) is None
    assert tel.done


def test_payload_over_the_broker_limit_is_not_pushed(tel, clock, caplog):
    subscribe(tel, clock, telemetry_max_bytes=10, accepted_compression_types=[],
              requested_metrics=[""])
    clock.advance(750)
    assert tel.next_request(clock()) is None
    assert "over the broker's limit of 10" in caplog.text
    assert tel.state == PUSH_NEEDED and tel.time_to_next_ms(clock()) == 1000


@pytest.mark.parametrize("codec", [compression.GZIP, compression.SNAPPY, compression.LZ4,
                                   compression.ZSTD])
def test_each_codec_decodes(tel, clock, metrics, codec):
    metrics.samples *= 20          # compressible
    subscribe(tel, clock, accepted_compression_types=[codec], requested_metrics=[""])
    clock.advance(750)
    request = answer(tel, clock, push_ok())
    assert request.body.compression_type == codec
    assert len(pushed(request)) == 5


def test_choose_compression():
    assert choose_compression([]) == compression.NONE
    assert choose_compression([compression.SNAPPY, compression.ZSTD]) == compression.SNAPPY
    assert choose_compression([9, compression.LZ4]) == compression.LZ4   # unknown skipped
    assert choose_compression([compression.NONE]) == compression.NONE


# -- the I/O thread's side -------------------------------------------------------------
class _NoMetadata:
    class snapshot:
        brokers = {}


def test_sender_side_routes_requests_and_answers(tel, clock):
    network = FakeNetworkClient(_NoMetadata(), clock)
    sender = TelemetrySender(tel, network)
    assert sender.maybe_send(clock()) == float("inf")   # waiting for the answer
    (request,) = network.requests("GetTelemetrySubscriptions")
    network.respond(request, subscription())
    for response in network.poll(0, clock()):
        response.complete()
    assert tel.state == PUSH_NEEDED
    assert sender.maybe_send(clock()) == 750
    clock.advance(750)
    sender.maybe_send(clock())
    (push,) = network.requests(PUSH)
    assert push.body.subscription_id == 11


def test_a_connection_ready_at_the_next_turn_is_used_at_once(tel, clock):
    """The turns between two steps of the state machine read a cached due time, but
    not while no connection is ready: the 50 ms retry is an upper bound, and the
    turn after a connection comes up sends."""
    network = FakeNetworkClient(_NoMetadata(), clock)
    node = network.node(-1)
    node.state = DISCONNECTED
    sender = TelemetrySender(tel, network)
    assert sender.maybe_send(clock()) == 50.0 and not network.sent
    node.state = READY
    clock.advance(1)
    assert sender.maybe_send(clock()) == float("inf")    # waiting for the answer
    (request,) = network.requests("GetTelemetrySubscriptions")
    network.respond(request, subscription())
    for response in network.poll(0, clock()):
        response.complete()                    # the answer resets the cached due time
    assert sender.maybe_send(clock()) == 750


def test_broker_without_the_apis_stops_telemetry(tel, clock):
    network = FakeNetworkClient(_NoMetadata(), clock)
    node = network.node(-1)
    del node.api_versions["GetTelemetrySubscriptions"]
    sender = TelemetrySender(tel, network)
    assert sender.maybe_send(clock()) == float("inf")
    assert tel.done and not network.sent


def test_an_answer_after_the_close_bound_changes_nothing(tel, clock):
    request = tel.next_request(clock())                 # subscription in flight
    tel.initiate_close(clock(), timeout_ms=100)
    clock.advance(100)
    assert tel.next_request(clock()) is None and tel.done
    tel.on_response(request, wire(request.api, request, subscription()), None, clock())
    assert tel.done and tel.next_request(clock()) is None


def test_the_sender_loop_drives_it(tel):
    """Sender.run_once calls the hook each turn: the subscription request goes out with
    the loop's other requests, the answer comes back through poll, the loop sleeps no
    longer than the next push, and after close the terminating push goes at once."""
    from ..producer.test_sender import Harness

    h = Harness({("t", 0): 1}, brokers=(1,))
    h.sender.telemetry = TelemetrySender(tel, h.network)
    h.sender.run_once()
    (request,) = h.network.requests("GetTelemetrySubscriptions")
    h.network.respond(request, subscription())
    h.sender.run_once()                          # the answer is handled from this poll
    assert tel.state == PUSH_NEEDED
    h.sender.run_once()
    assert h.network.poll_timeouts[-1] <= 750
    h.clock.advance(750)
    h.sender.run_once()
    (push,) = h.network.requests(PUSH)
    h.network.respond(push, push_ok())
    h.sender.run_once()
    assert tel.pushes == 1
    h.sender.telemetry.initiate_close(h.clock())
    h.sender.run_once()
    (last,) = h.network.requests(PUSH)
    assert last.body.terminating
    h.network.respond(last, push_ok())
    h.sender.run_once()
    assert h.sender.telemetry.done and not h.sender._telemetry_pending()
