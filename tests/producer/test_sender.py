"""The Sender against a scripted network client and a manual clock (in the style of
Java's SenderTest): readiness, drain across leaders, in-flight limits, retries with
backoff, expiry, a leader move (KIP-951), a disconnect mid-request, an epoch bump
(KIP-360) and the producer id coming first. No broker, no sleeps."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.metadata import Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.sender import Sender
from kprod._native.bufferpool import BufferPool
from kprod._native.batch_reader import read_batches
from kprod.config import ProducerConfig
from kprod.errors import KafkaTimeoutError, NotEnoughReplicasError

from ..fakes import (
    FakeNetworkClient, ManualClock, cluster_metadata, produce_answer, produce_partitions,
    producer_id_answer,
)

T = "topic"
TP0, TP1, TP2 = (T, 0), (T, 1), (T, 2)
NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, UNKNOWN_PRODUCER_ID = 6, 19, 59


class Harness:
    """One Sender with its accumulator, metadata and a fake network client."""

    def __init__(self, leaders: Dict[tuple, int], brokers=(), producer_id: Optional[int] = 7,
                 **settings: Any) -> None:
        settings.setdefault("linger_ms", 0)
        self.config = ProducerConfig({"bootstrap.servers": "127.0.0.1:1", **settings})
        cfg = self.config
        self.clock = ManualClock(1000.0)
        self.pool = BufferPool(1 << 22, cfg["batch.size"])
        self.acc = RecordAccumulator(
            batch_size=cfg["batch.size"], linger_ms=cfg["linger.ms"], compression="none",
            compression_level=None, pool=self.pool,
            delivery_timeout_ms=cfg["delivery.timeout.ms"],
            retry_backoff_ms=cfg["retry.backoff.ms"],
            retry_backoff_max_ms=cfg["retry.backoff.max.ms"], clock=self.clock,
            idempotent=cfg["enable.idempotence"], max_request_size=cfg["max.request.size"])
        self.metadata = Metadata(300000, 100, 300000)
        cluster_metadata(self.metadata, leaders, brokers=brokers)
        self.idem = IdempotenceState() if cfg["enable.idempotence"] else None
        if self.idem is not None and producer_id is not None:
            self.idem.set_producer_id(producer_id, 0)
        self.network = FakeNetworkClient(self.metadata, self.clock)
        self.sender = Sender(cfg, self.metadata, self.acc, self.idem, ProducerMetrics(),
                             self.clock, network=self.network)

    def send(self, tp, value: bytes = b"v" * 20):
        """What Producer.send does once the partition is chosen."""
        return self.acc.append(tp, 0, None, value, None, None, 0.0, -1, len(value))[0]

    def loop(self) -> None:
        self.sender.run_once()

    def produce_requests(self, node_id: Optional[int] = None) -> List[Any]:
        return [r for r in self.network.sent
                if r.api == "Produce" and (node_id is None or r.node.node_id == node_id)]


def test_a_batch_waits_for_linger_then_goes_to_its_leader():
    h = Harness({TP0: 1}, linger_ms=10)
    future = h.send(TP0)
    h.loop()
    assert h.produce_requests() == []
    assert h.network.poll_timeouts[-1] == pytest.approx(10.0)   # sleeps until the linger
    h.clock.advance(10)
    h.loop()
    [request] = h.produce_requests()
    assert request.node.node_id == 1 and [p[:2] for p in produce_partitions(request)] == [TP0]
    h.network.respond(request, produce_answer(request, offsets={TP0: 41}))
    h.loop()
    assert future.get(0).offset == 41


def test_the_loop_that_sends_a_request_polls_no_longer_than_linger():
    # So a batch opened while the request is in flight needs no wakeup: the loop of its
    # response, or linger.ms at the latest, scans the queues in time (wakeup_new_batch).
    h = Harness({TP0: 1}, linger_ms=5)
    h.send(TP0)
    h.clock.advance(5)
    h.loop()
    assert len(h.produce_requests()) == 1
    assert h.network.poll_timeouts[-1] <= 5.0
    h.network.respond(h.produce_requests()[0],
                      produce_answer(h.produce_requests()[0], offsets={TP0: 0}))
    h.loop()                 # the response arrives in this loop's poll
    h.loop()
    assert h.network.poll_timeouts[-1] == pytest.approx(1000.0)   # idle: nothing in flight


def test_one_request_per_leader_holding_its_partitions():
    h = Harness({TP0: 1, TP1: 2, TP2: 1})
    for tp in (TP0, TP1, TP2):
        h.send(tp)
    h.loop()
    by_node = {r.node.node_id: sorted(p[:2] for p in produce_partitions(r))
               for r in h.produce_requests()}
    assert by_node == {1: [TP0, TP2], 2: [TP1]}


def test_in_flight_requests_are_limited_per_connection():
    # batch.size so small that every record is a batch of its own
    h = Harness({TP0: 1}, batch_size=100, max_in_flight_requests_per_connection=2)
    h.network.max_in_flight = 2
    futures = [h.send(TP0, b"x" * 60)]
    h.loop()
    [first] = h.network.requests()        # one in flight until the partition's first ack
    h.network.respond(first, produce_answer(first, offsets={TP0: 0}))
    h.loop()
    futures += [h.send(TP0, b"x" * 60) for _ in range(3)]
    for _ in range(3):
        h.loop()
    assert len(h.produce_requests()) == 3 and len(h.network.requests()) == 2
    oldest = h.network.requests()[0]
    h.network.respond(oldest, produce_answer(oldest, offsets={TP0: 1}))
    h.loop()                              # the answer frees a slot ...
    h.loop()                              # ... and the next batch takes it
    assert len(h.produce_requests()) == 4
    h.network.respond_all(lambda r: produce_answer(r))
    for _ in range(3):
        h.loop()
        h.network.respond_all(lambda r: produce_answer(r))
    assert all(f.done() for f in futures)
    sequences = [read_batches(p[2])[0].base_sequence
                 for r in h.produce_requests() for p in produce_partitions(r)]
    assert sequences == [0, 1, 2, 3]      # in order, each batch once


def test_a_full_batch_wakes_the_loop_unless_every_broker_is_at_its_in_flight_limit():
    """While every broker's connection has max.in.flight requests unanswered, nothing
    can be sent before a response, and the turn handling it scans the queues: a batch
    that fills meanwhile does not wake the loop, and goes out after that response."""
    h = Harness({TP0: 1, TP1: 2}, batch_size=100, max_in_flight_requests_per_connection=1)
    h.network.max_in_flight = 1
    h.send(TP0, b"x" * 60)
    h.loop()
    assert not h.sender.saturated          # broker 2 has nothing in flight
    h.sender.wakeup_batch_full()
    assert h.network.wakeups == 1
    h.send(TP1, b"x" * 60)
    h.loop()
    assert h.sender.saturated and len(h.network.requests()) == 2
    h.send(TP0, b"x" * 60)                 # a new batch behind the one in flight
    h.sender.wakeup_batch_full()
    assert h.network.wakeups == 1          # not woken: a response must come first
    first = h.network.requests(node_id=1)[0]
    h.network.respond(first, produce_answer(first, offsets={TP0: 0}))
    h.loop()                               # the response's turn ...
    assert not h.sender.saturated
    h.loop()                               # ... and the next scan sends the queued batch
    assert sorted(r.node.node_id for r in h.network.requests()) == [1, 2]
    assert len(h.produce_requests(node_id=1)) == 2


def test_a_saturated_loop_waits_for_a_response_not_for_linger():
    """With requests in flight the poll is capped at linger.ms (a batch opened meanwhile
    needs no wakeup), unless every broker is at its in-flight limit: then only a
    response can let anything go, and new batches do not wake the loop either."""
    h = Harness({TP0: 1}, linger_ms=5, batch_size=100, acks="1", enable_idempotence=False,
                max_in_flight_requests_per_connection=2)
    h.network.max_in_flight = 2
    h.send(TP0, b"x" * 60)
    h.send(TP0, b"x" * 60)                 # batch.size 100: each batch full at once
    h.loop()                               # one batch per partition per request
    h.loop()
    assert len(h.network.requests()) == 2 and h.sender.saturated
    assert h.network.poll_timeouts[-1] == pytest.approx(1000.0)   # not linger.ms
    h.send(TP0, b"x" * 60)
    h.sender.wakeup_new_batch(h.clock())
    h.sender.wakeup_batch_full()
    assert h.network.wakeups == 0
    first = h.network.requests()[0]
    h.network.respond(first, produce_answer(first, offsets={TP0: 0}))
    h.loop()                               # the freed slot takes the third batch
    assert len(h.produce_requests()) == 3 and h.sender.saturated
    second = h.network.requests()[0]
    h.network.respond(second, produce_answer(second, offsets={TP0: 1}))
    h.loop()                               # one in flight, room for more: capped
    assert not h.sender.saturated
    assert h.network.poll_timeouts[-1] == pytest.approx(5.0)


def test_a_batch_opened_while_the_loop_sleeps_arms_the_timer_for_its_linger():
    """The loop sleeps with no deadline of its own (nothing queued or in flight) and a
    send() opens a batch: with a timer (Linux) the poll is made to return at the
    batch's linger expiry and nothing wakes the loop now; without one, a wakeup. A
    poll that returns in time anyway needs neither; a flush needs the loop at once."""
    h = Harness({TP0: 1}, linger_ms=5)
    h.network.timer = []
    h.loop()                                                 # idle
    sleeping_until = h.clock() + 1000.0
    h.network.selector.wake_deadline = sleeping_until        # as the real poll publishes
    h.send(TP0)
    opened = h.acc.queues[TP0].batches[0].created_ms
    h.sender.wakeup_new_batch(opened)
    assert h.network.timer == [opened + 5] and h.network.wakeups == 0
    h.network.timer = None
    h.sender.wakeup_new_batch(opened)
    assert h.network.wakeups == 1                            # no timer: woken now
    h.network.timer = []
    h.network.selector.wake_deadline = opened + 3            # the poll ends before linger
    h.sender.wakeup_new_batch(opened)
    assert h.network.timer == [] and h.network.wakeups == 1
    h.network.selector.wake_deadline = sleeping_until
    h.acc.flushes_in_progress += 1
    h.sender.wakeup_new_batch(opened)
    assert h.network.timer == [] and h.network.wakeups == 2  # flush: ready now
    h.acc.flushes_in_progress -= 1
    h.network.selector.will_scan()                           # awake, not scanned yet
    h.sender.wakeup_new_batch(opened)
    assert h.network.timer == [] and h.network.wakeups == 2


def test_a_full_batch_always_wakes_the_loop_with_acks_0():
    """acks=0 requests get no response to end a turn: no wakeup is skipped."""
    h = Harness({TP0: 1}, acks="0", enable_idempotence=False, batch_size=100,
                max_in_flight_requests_per_connection=1)
    h.send(TP0, b"x" * 60)
    h.loop()
    assert not h.sender.saturated
    h.sender.wakeup_batch_full()
    assert h.network.wakeups == 1


def test_retriable_error_backs_off_then_resends_the_same_bytes():
    h = Harness({TP0: 1}, retry_backoff_ms=100)
    future = h.send(TP0)
    h.loop()
    [first] = h.produce_requests()
    sent_bytes = produce_partitions(first)[0][2]
    h.network.respond(first, produce_answer(first, errors={TP0: NOT_ENOUGH_REPLICAS}))
    h.loop()                              # the error is handled: re-enqueued
    h.clock.advance(79)                   # backoff 100 ms +-20% jitter
    h.loop()
    assert len(h.produce_requests()) == 1 and not future.done()
    h.clock.advance(42)
    h.loop()
    retry = h.produce_requests()[1]
    assert produce_partitions(retry)[0][2] == sent_bytes       # same batch, same sequence
    h.network.respond(retry, produce_answer(retry, offsets={TP0: 5}))
    h.loop()
    assert future.get(0).offset == 5
    assert h.sender.metrics.snapshot(0, 0)["record-retry-total"] == 1


def test_non_retriable_outcome_after_retries_run_out():
    h = Harness({TP0: 1}, retries=1, retry_backoff_ms=10, retry_backoff_max_ms=10)
    future = h.send(TP0)
    for _ in range(2):
        h.loop()
        request = h.network.requests()[0]
        h.network.respond(request, produce_answer(request, errors={TP0: NOT_ENOUGH_REPLICAS}))
        h.loop()
        h.clock.advance(20)
    assert isinstance(future.exception(0), NotEnoughReplicasError)
    assert len(h.produce_requests()) == 2


def test_batches_whose_leader_stays_unreachable_expire():
    h = Harness({TP0: 1}, delivery_timeout_ms=1000, request_timeout_ms=500)
    node = h.network.node(1)
    node.state, node.next_attempt_ms = "CLOSED", float("inf")
    future = h.send(TP0)
    h.loop()
    h.clock.advance(999)
    h.loop()
    assert not future.done() and h.produce_requests() == []
    h.clock.advance(1)
    h.loop()
    with pytest.raises(KafkaTimeoutError, match="delivery.timeout.ms=1000"):
        future.get(0)


def test_leader_hint_moves_the_partition_without_a_metadata_round_trip():
    """KIP-951: NOT_LEADER_OR_FOLLOWER with CurrentLeader and NodeEndpoints."""
    h = Harness({TP0: 1}, brokers=[1])
    future = h.send(TP0)
    h.loop()
    [first] = h.produce_requests(node_id=1)
    h.network.respond(first, produce_answer(first, errors={TP0: NOT_LEADER_OR_FOLLOWER},
                                            leader_hints={TP0: (2, 1)}, endpoints=[2]))
    h.loop()                              # handled: the hint is newer than epoch 0
    assert h.metadata.leader_for(TP0) == 2 and not h.metadata.need_update
    h.loop()                              # no backoff on a known move
    [moved] = h.produce_requests(node_id=2)
    h.network.respond(moved, produce_answer(moved, offsets={TP0: 9}))
    h.loop()
    assert future.get(0).offset == 9


def test_disconnect_mid_request_retries_with_the_same_sequence():
    h = Harness({TP0: 1})
    future = h.send(TP0)
    h.loop()
    [first] = h.produce_requests()
    first_bytes = produce_partitions(first)[0][2]
    h.network.disconnect(1)               # the answer never comes: fate unknown
    h.loop()
    assert not future.done() and h.metadata.need_update
    h.clock.advance(200)                  # reconnect backoff and retry backoff passed
    h.loop()
    [_, retry] = h.produce_requests()
    assert produce_partitions(retry)[0][2] == first_bytes
    assert read_batches(first_bytes)[0].base_sequence == 0
    h.network.respond(retry, produce_answer(retry, offsets={TP0: 3}))
    h.loop()
    assert future.get(0).offset == 3


def test_unknown_producer_id_bumps_the_epoch_and_resends_from_sequence_zero():
    h = Harness({TP0: 1}, producer_id=7)
    future = h.send(TP0)
    h.loop()
    [first] = h.produce_requests()
    batch = read_batches(produce_partitions(first)[0][2])[0]
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (7, 0, 0)
    h.network.respond(first, produce_answer(first, errors={TP0: UNKNOWN_PRODUCER_ID}))
    h.loop()
    assert h.idem.bump_requested
    h.clock.advance(200)
    h.loop()                              # nothing in flight: bump, restamp, resend
    retry = h.produce_requests()[-1]
    batch = read_batches(produce_partitions(retry)[0][2])[0]
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (7, 1, 0)
    h.network.respond(retry, produce_answer(retry, offsets={TP0: 0}))
    h.loop()
    assert future.get(0).offset == 0


def test_producer_id_is_fetched_before_any_produce():
    h = Harness({TP0: 1}, producer_id=None)
    h.send(TP0)
    h.loop()
    assert [r.api for r in h.network.sent] == ["InitProducerId"]
    [init] = h.network.requests("InitProducerId")
    h.network.respond(init, producer_id_answer(42, 3))
    h.loop()                              # the answer lands
    h.loop()                              # then the data goes
    [request] = h.produce_requests()
    batch = read_batches(produce_partitions(request)[0][2])[0]
    assert (batch.producer_id, batch.producer_epoch) == (42, 3)
