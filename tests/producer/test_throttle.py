"""KIP-219 client-side throttling in the Sender, against the scripted network client and
a manual clock (Java SenderTest style): a broker that answered with throttle_time_ms on
a version where the client must throttle gets no request until the time has passed, the
poll wakes when the throttle ends (no busy loop), other brokers are not held back."""
from __future__ import annotations

import pytest

from kprod._internals import protocol as proto
from kprod._internals.connection_states import (
    THROTTLE_FROM_VERSION, Throttles, client_should_throttle,
)
from kprod._internals.protocol import types

from ..fakes import produce_answer, producer_id_answer
from .test_sender import TP0, TP1, Harness


def _answer(h: Harness, request, throttle_ms: int, offset: int = 0) -> None:
    h.network.respond(request, produce_answer(request, offsets={request_tp(request): offset},
                                              throttle_ms=throttle_ms))


def request_tp(request):
    topic, partition, _ = request.partitions[0]
    return (topic, partition)


def test_a_throttled_broker_gets_no_produce_until_the_throttle_passed():
    h = Harness({TP0: 1})
    first = h.send(TP0)
    h.loop()
    [request] = h.produce_requests()
    _answer(h, request, throttle_ms=500, offset=3)
    h.loop()                                  # the answer arrives at t=1000: throttled
    assert first.get(0).offset == 3
    second = h.send(TP0)
    h.loop()
    assert len(h.produce_requests()) == 1     # ready data, but the broker throttles
    assert h.network.poll_timeouts[-1] == pytest.approx(500)   # wakes when it ends
    h.clock.advance(499)
    h.loop()
    assert len(h.produce_requests()) == 1
    assert h.network.poll_timeouts[-1] == pytest.approx(1)
    h.clock.advance(1)
    h.loop()
    assert len(h.produce_requests()) == 2
    retry = h.produce_requests()[1]
    _answer(h, retry, throttle_ms=0, offset=4)
    h.loop()
    assert second.get(0).offset == 4


def test_below_produce_v6_the_broker_delayed_the_answer_itself():
    # Produce v3-v5: the broker throttled by holding the response back (KIP-219 keeps
    # that for old versions), so the client sends on at once.
    h = Harness({TP0: 1})
    h.network.node(1).api_versions["Produce"] = 5
    h.send(TP0)
    h.loop()
    [request] = h.produce_requests()
    _answer(h, request, throttle_ms=500)
    h.loop()
    h.send(TP0)
    h.loop()
    assert len(h.produce_requests()) == 2


def test_other_brokers_are_not_held_back_and_nothing_busy_loops():
    h = Harness({TP0: 1, TP1: 2})
    h.send(TP0)
    h.loop()
    [to_one] = h.produce_requests(1)
    _answer(h, to_one, throttle_ms=300)
    h.loop()
    h.send(TP0)
    h.send(TP1)
    h.loop()
    assert len(h.produce_requests(1)) == 1 and len(h.produce_requests(2)) == 1
    # Broker 1's batch is sendable but throttled: the poll waits for the throttle's
    # end (a response from broker 2 would wake it too), never 0.
    assert h.network.poll_timeouts[-1] == pytest.approx(300)
    h.clock.advance(300)
    h.loop()
    assert len(h.produce_requests(1)) == 2


def test_a_throttled_init_producer_id_answer_holds_the_first_produce_back():
    # Every response carrying throttle_time_ms counts (KIP-219), not only Produce.
    h = Harness({TP0: 1}, brokers=[1], enable_idempotence=True, producer_id=None)
    h.send(TP0)
    h.loop()
    [init] = h.network.requests("InitProducerId")
    answer = producer_id_answer(7, 0)
    answer.throttle_time_ms = 200
    h.network.respond(init, answer)
    h.loop()
    assert h.idem.producer_id == 7
    h.loop()
    assert h.produce_requests() == []
    assert h.network.poll_timeouts[-1] == pytest.approx(200)
    h.clock.advance(200)
    h.loop()
    assert len(h.produce_requests()) == 1


def test_a_shorter_throttle_never_shortens_a_longer_one():
    throttles = Throttles()
    long = types.ProduceResponse(throttle_time_ms=1000, responses=[])
    short = types.ProduceResponse(throttle_time_ms=10, responses=[])
    throttles.on_response(1, "Produce", 9, long, 0.0)
    throttles.on_response(1, "Produce", 9, short, 500.0)
    assert throttles.delay_ms(1, 500.0) == pytest.approx(500)
    assert throttles.delay_ms(2, 500.0) == 0            # per broker
    throttles.on_response(1, "Produce", 9, types.ProduceResponse(throttle_time_ms=800,
                                                                 responses=[]), 600.0)
    assert throttles.delay_ms(1, 600.0) == pytest.approx(800)
    assert throttles.delay_ms(1, 1400.0) == 0


@pytest.mark.parametrize("api, version, expected", [
    ("Produce", 5, False), ("Produce", 6, True), ("Metadata", 5, False),
    ("Metadata", 6, True), ("InitProducerId", 0, False), ("InitProducerId", 1, True),
    ("AddPartitionsToTxn", 1, True), ("FindCoordinator", 1, False),
    ("GetTelemetrySubscriptions", 0, True), ("PushTelemetry", 0, False),
    ("SaslAuthenticate", 2, False),
])
def test_the_per_api_version_rule(api, version, expected):
    assert client_should_throttle(api, version) is expected


def test_every_api_answering_with_a_throttle_time_is_decided():
    # A new API with ThrottleTimeMs in its response must be added to the table (or to
    # the APIs that never pause the client, as Java's PushTelemetryResponse).
    never = {"PushTelemetry"}
    with_throttle = {api.name for api in proto.APIS
                     if any(f.name == "ThrottleTimeMs" for f in api.response.fields)}
    assert with_throttle == set(THROTTLE_FROM_VERSION) | never
