"""Test doubles shared by the unit tests: one manual clock and a scripted network
client (in the spirit of Java's MockTime and MockClient).

``FakeNetworkClient`` has the interface the Sender uses of
:class:`kprod._internals.network.NetworkClient`; the test decides which brokers are
ready, answers requests (in order per broker), disconnects brokers mid-request, and
reads what was sent. Completions come back through ``poll`` as with the real client.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional

from kprod._internals.connection import CLOSED, DISCONNECTED, READY
from kprod._internals.connection_states import Throttles
from kprod._internals.metadata import Metadata
from kprod._internals.network import CLIENT_VERSIONS, NetworkClient
from kprod._native.requests import ClientResponse
from kprod._internals.protocol import types
from kprod._internals.protocol.client import produce_partitions as produce_body_partitions
from kprod.errors import KafkaConnectionError


class ManualClock:
    """Milliseconds that move only when the test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, ms: float) -> None:
        self.now += ms


def cluster_metadata(md: Metadata, leaders: Dict[tuple, int], now: float = 0.0,
                     brokers: Iterable[int] = ()) -> None:
    """Install a Metadata answer: ``leaders`` maps (topic, partition) to its leader id."""
    node_ids = sorted(set(brokers) | {n for n in leaders.values() if n >= 0})
    topics: Dict[str, List[types.MetadataResponsePartition]] = {}
    for (topic, partition), leader in sorted(leaders.items()):
        topics.setdefault(topic, []).append(types.MetadataResponsePartition(
            partition_index=partition, leader_id=leader, leader_epoch=0,
            replica_nodes=[leader], isr_nodes=[leader]))
    md.update(types.MetadataResponse(
        brokers=[types.MetadataResponseBroker(node_id=n, host=f"broker{n}", port=9092)
                 for n in node_ids],
        cluster_id="fake", controller_id=node_ids[0] if node_ids else -1,
        topics=[types.MetadataResponseTopic(name=name, partitions=parts)
                for name, parts in topics.items()]), now)


class FakeRequest:
    __slots__ = ("node", "api", "body", "response", "expect_response", "partitions")

    def __init__(self, node: "FakeNode", api: str, body: Any, response: ClientResponse,
                 expect_response: bool) -> None:
        self.node = node
        self.api = api
        self.body = body
        self.response = response
        self.expect_response = expect_response
        # Produce: (topic, partition, batch bytes) copied when sent (no view is kept)
        self.partitions = _copy_produce_partitions(body) if api == "Produce" else []


class FakeNode:
    """A broker connection as the Sender sees it."""

    def __init__(self, node_id: int, max_in_flight: int = 5) -> None:
        self.node_id = node_id
        self.host, self.port = f"broker{node_id}", 9092
        self.state = READY
        self.max_in_flight = max_in_flight
        self.in_flight: List[FakeRequest] = []
        self.next_attempt_ms = 0.0
        self.last_error: Optional[BaseException] = None
        self.api_versions = {name: high for name, (_, high) in CLIENT_VERSIONS.items()}
        self.finalized_features: Dict[str, int] = {}

    @property
    def ready(self) -> bool:
        return self.state == READY

    def can_send_more(self) -> bool:
        return self.ready and len(self.in_flight) < self.max_in_flight

    def can_connect(self, now: float) -> bool:
        return self.state in (DISCONNECTED, CLOSED) and now >= self.next_attempt_ms


class _FakeSelector:
    def __init__(self) -> None:
        self.wake_deadline: Optional[float] = None

    def will_scan(self) -> None:
        self.wake_deadline = None

    def scanning(self) -> None:
        self.wake_deadline = 0.0


class FakeNetworkClient:
    def __init__(self, metadata: Metadata, clock: Callable[[], float],
                 max_in_flight: int = 5) -> None:
        self.metadata = metadata
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.settings = None
        self.selector = _FakeSelector()
        self.connections: Dict[int, FakeNode] = {}
        self.sent: List[FakeRequest] = []
        self.poll_timeouts: List[float] = []
        self.wakeups = 0
        # wake_at's deadlines when set to a list (a timer, as on Linux); None: no timer.
        self.timer: Optional[List[float]] = None
        self.on_auth_failure: Optional[Callable[[BaseException], None]] = None
        self.on_ready: Optional[Callable[[Any], None]] = None
        self.reconnect_backoff_ms = 50.0
        self.throttles = Throttles()      # KIP-219, the real client's bookkeeping
        self._completed: List[ClientResponse] = []

    # -- the NetworkClient interface ---------------------------------------------------
    def wakeup(self) -> None:
        self.wakeups += 1

    def wake_at(self, deadline_ms: float) -> bool:
        if self.timer is None:
            return False
        self.timer.append(deadline_ms)
        return True

    @property
    def wake_deadline(self) -> Optional[float]:
        return self.selector.wake_deadline

    def node(self, node_id: int) -> FakeNode:
        node = self.connections.get(node_id)
        if node is None:
            node = self.connections[node_id] = FakeNode(node_id, self.max_in_flight)
        return node

    def connection(self, node_id: int) -> Optional[FakeNode]:
        if node_id not in self.metadata.snapshot.brokers:
            return None
        return self.node(node_id)

    def coordinator(self, node_id: int, host: str, port: int, now: float) -> FakeNode:
        node = self.node(node_id)
        self.ready(node, now)
        return node

    def ready(self, conn: FakeNode, now: float) -> bool:
        if not conn.ready and conn.can_connect(now):
            conn.state = READY          # a fake connect succeeds at once
            conn.last_error = None
            if self.on_ready is not None:
                self.on_ready(conn)
        return conn.ready and self.throttles.delay_ms(conn.node_id, now) <= 0

    def can_send(self, conn: FakeNode, now: float) -> bool:
        return conn.can_send_more() and self.throttles.delay_ms(conn.node_id, now) <= 0

    def poll_delay_ms(self, conn: FakeNode, now: float) -> float:
        return self.throttles.poll_delay_ms(conn, now)

    saturated = NetworkClient.saturated      # the real rule, over the fake nodes

    def least_loaded(self, now: float) -> Optional[FakeNode]:
        nodes = [self.node(n) for n in self.metadata.snapshot.brokers] or [self.node(-1)]
        ready = [n for n in nodes if self.can_send(n, now)]
        return min(ready, key=lambda n: len(n.in_flight)) if ready else None

    def send(self, conn: FakeNode, api: str, body: Any, handler: Callable[..., None],
             expect_response: bool = True) -> None:
        assert self.can_send(conn, self.clock()), \
            f"send to broker {conn.node_id} that cannot take it (or throttles: KIP-219)"
        response = ClientResponse(handler, self._completed, conn.node_id, api,
                                  conn.api_versions.get(api, -1))
        request = FakeRequest(conn, api, body, response, expect_response)
        self.sent.append(request)
        if expect_response:
            conn.in_flight.append(request)
        else:
            request.body = None                # written: the batches' views are let go
            response.arrived(None, None)       # acks=0: done once written

    def poll(self, timeout_ms: float, now: float) -> List[ClientResponse]:
        self.poll_timeouts.append(timeout_ms)
        done = self._completed[:]
        self._completed.clear()
        now = self.clock()
        for response in done:        # as NetworkClient.poll does
            if response.body is not None:
                self.throttles.on_response(response.node_id, response.api,
                                           response.version, response.body, now)
        return done

    def maybe_update_metadata(self, now: float, topics_in_use: Callable[[], Any]) -> float:
        return float("inf")               # tests install metadata with cluster_metadata()

    def all_connections(self) -> List[FakeNode]:
        return list(self.connections.values())

    def close(self) -> None:
        pass

    # -- scripting ---------------------------------------------------------------------
    def requests(self, api: Optional[str] = None, node_id: Optional[int] = None
                 ) -> List[FakeRequest]:
        """Requests still waiting for an answer, oldest first."""
        return [r for n in self.connections.values() for r in n.in_flight
                if (api is None or r.api == api) and (node_id is None or n.node_id == node_id)]

    def respond(self, request: FakeRequest, body: Any) -> None:
        """Answer ``request`` (answers come in request order per connection)."""
        node = request.node
        assert node.in_flight and node.in_flight[0] is request, "answer the oldest first"
        node.in_flight.pop(0)
        request.body = None     # like a real connection, keep no view of the batches
        request.response.arrived(body, None)

    def respond_all(self, answer: Callable[[FakeRequest], Any]) -> int:
        count = 0
        for node in list(self.connections.values()):
            while node.in_flight:
                request = node.in_flight[0]
                self.respond(request, answer(request))
                count += 1
        return count

    def disconnect(self, node_id: int, error: Optional[BaseException] = None) -> None:
        """The connection to ``node_id`` breaks: every request in flight on it fails."""
        node = self.node(node_id)
        error = error or KafkaConnectionError(f"Connection to node {node_id} closed")
        node.state = CLOSED
        node.last_error = error
        node.next_attempt_ms = self.clock() + self.reconnect_backoff_ms
        pending, node.in_flight = node.in_flight, []
        for request in pending:
            request.body = None
            request.response.arrived(None, error)
        self.metadata.request_update()


# -- Produce requests and answers, in one place (the tests never build them by hand) ------

def _copy_produce_partitions(body: Any) -> List[tuple]:
    return [(topic, partition, bytes(records))
            for topic, partition, records in produce_body_partitions(body)]


def produce_partitions(request: FakeRequest) -> List[tuple]:
    """``[(topic, partition, batch bytes), ...]`` of a Produce request, in request order."""
    return request.partitions


def produce_answer(request: FakeRequest, errors: Optional[Dict[tuple, int]] = None,
                   offsets: Optional[Dict[tuple, int]] = None,
                   leader_hints: Optional[Dict[tuple, tuple]] = None,
                   endpoints: Iterable[int] = (),
                   throttle_ms: int = 0) -> types.ProduceResponse:
    """The broker's answer to ``request``: success (base offset from ``offsets``, else 0)
    unless ``errors`` names an error code for the partition; ``leader_hints`` adds
    KIP-951 CurrentLeader (leader id, epoch) and ``endpoints`` the NodeEndpoints;
    ``throttle_ms`` is the broker's quota throttle_time_ms (KIP-219)."""
    errors, offsets, leader_hints = errors or {}, offsets or {}, leader_hints or {}
    by_topic: Dict[str, List[types.PartitionProduceResponse]] = {}
    for topic, partition, _ in produce_partitions(request):
        tp = (topic, partition)
        code = errors.get(tp, 0)
        leader_id, leader_epoch = leader_hints.get(tp, (-1, -1))
        by_topic.setdefault(topic, []).append(types.PartitionProduceResponse(
            index=partition, error_code=code, base_offset=-1 if code else offsets.get(tp, 0),
            log_append_time_ms=-1, log_start_offset=0,
            current_leader=types.LeaderIdAndEpoch(leader_id=leader_id,
                                                  leader_epoch=leader_epoch)))
    return types.ProduceResponse(
        throttle_time_ms=throttle_ms,
        responses=[types.TopicProduceResponse(name=t, partition_responses=parts)
                   for t, parts in by_topic.items()],
        node_endpoints=[types.NodeEndpoint(node_id=n, host=f"broker{n}", port=9092)
                        for n in endpoints])


def producer_id_answer(producer_id: int, epoch: int) -> types.InitProducerIdResponse:
    return types.InitProducerIdResponse(error_code=0, producer_id=producer_id,
                                        producer_epoch=epoch)
