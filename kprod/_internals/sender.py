"""The I/O thread's decisions (Java's ``Sender``): get a producer id, run the
transaction's coordinator requests, drain ready batches into one Produce request
per leader, expire batches past ``delivery.timeout.ms``, and shut down.

Sockets, connections, metadata requests and polling belong to the
:class:`~kprod._internals.network.NetworkClient`; what an answered Produce means
for its batches belongs to :mod:`kprod._internals.produce_response`. Caller
threads only append to the accumulator and wake this thread; batch outcomes (and
so user callbacks) are delivered from this thread with no internal lock held.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, List, Optional, Set, Tuple

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.batch import ProducerBatch
from kprod._internals.connection import (
    CLOSED, DISCONNECTED, BrokerConnection, ConnectionSettings,
)
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.metadata import Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.network import NetworkClient
from kprod._internals.produce_response import ProduceResponseHandler
from kprod._internals.protocol import types
from kprod._internals.protocol.client import ProduceData
from kprod._internals.protocol.primitives import ZERO_UUID
from kprod._internals.telemetry import ClientTelemetry, TelemetrySender
from kprod._internals.transactions import (
    ABORTING, FATAL_ERROR, TransactionAbortedError, TransactionManager, TxnRequest,
)
from kprod._native.thread_name import set_native_thread_name
from kprod.errors import (
    ClusterAuthorizationError, KafkaError, ProducerClosedError,
    TransactionalIdAuthorizationError, UnsupportedVersionError, error_for_code,
)

log = logging.getLogger("kprod.sender")

TopicPartition = Tuple[str, int]

# InitProducerId errors that retrying cannot fix (Java: fatal for the producer).
_FATAL_INIT_ERRORS = (ClusterAuthorizationError, TransactionalIdAuthorizationError,
                      UnsupportedVersionError)


class Sender:
    def __init__(self, config, metadata: Metadata, accumulator: RecordAccumulator,
                 idempotence: Optional[IdempotenceState], metrics: ProducerMetrics,
                 clock: Callable[[], float],
                 transactions: Optional[TransactionManager] = None,
                 network: Optional[NetworkClient] = None,
                 telemetry: Optional[ClientTelemetry] = None) -> None:
        self.config = config
        self.metadata = metadata
        self.acc = accumulator
        self.idem = idempotence
        self.txn = transactions
        self.transactional_id = transactions.transactional_id if transactions else None
        self.metrics = metrics
        self.clock = clock
        self.settings = ConnectionSettings(config) if network is None else network.settings
        self.network = network or NetworkClient(self.settings, config["bootstrap.servers"],
                                                metadata, clock)
        self.network.on_auth_failure = self._on_auth_failure
        self.network.on_ready = self._on_connection_ready
        self.wakeup = self.network.wakeup      # any thread; latched, coalesced
        self.acks = config.acks
        self.request_timeout_ms = config["request.timeout.ms"]
        self.max_request_size = config["max.request.size"]
        self.transaction_timeout_ms = config["transaction.timeout.ms"]
        self.guarantee_order = config["max.in.flight.requests.per.connection"] == 1
        self.adaptive = config["partitioner.adaptive.partitioning.enable"]
        self.availability_timeout_ms = config["partitioner.availability.timeout.ms"]
        self.linger_ms = config["linger.ms"]
        self.node_unready_since: Dict[int, float] = {}
        self.running = True
        self.force_close = False
        self.in_flight_batches: Dict[int, List[ProducerBatch]] = {}  # request id -> batches
        self._undrained_aborted = False
        # Every broker's connection is at its in-flight limit (set by this thread at the
        # end of a scan, cleared when a turn starts): see wakeup_batch_full.
        self.saturated = False
        self._pid_in_flight = False
        self._pid_next_attempt = 0.0
        self.fatal_error: Optional[BaseException] = None
        self.responses = ProduceResponseHandler(config, metadata, accumulator, idempotence,
                                                metrics, transactions, self._stopping)
        # KIP-714 metrics push: its requests go to the least-loaded broker when due.
        self.telemetry = (TelemetrySender(telemetry, self.network)
                          if telemetry is not None else None)
        # kprod.otel's batch spans: called with the batches of each Produce request.
        self.on_produce: Optional[Callable[[List[ProducerBatch]], None]] = None
        self.thread = threading.Thread(target=self._run, name="kprod-sender", daemon=True)

    @property
    def batch_split_total(self) -> int:
        return self.responses.batch_split_total

    def _stopping(self) -> bool:
        return self.force_close or self.fatal_error is not None

    # -- caller threads --------------------------------------------------------------
    def wakeup_new_batch(self, since_ms: float) -> None:
        """A send() opened a batch at ``since_ms`` (clock ms, its creation time): make
        sure this thread looks at it by its linger expiry. Nothing to do when it will
        anyway: it is awake and has not scanned the queues yet, or it polls until no
        later than that (the poll is capped at linger.ms while requests are in flight,
        run_once). Otherwise the network client's timer wakes the poll then
        (``wake_at``), or, without one, a wakeup now. Each saves a loop turn per request
        at low rates: a wakeup now only finds the deadline and polls again."""
        deadline = self.network.wake_deadline
        if deadline is None or self.saturated:     # saturated: see wakeup_batch_full
            return
        acc = self.acc
        if not (acc.flushes_in_progress or acc.closed or acc.pool.queued):
            due = since_ms + self.linger_ms
            if 0.0 < deadline <= due or self.network.wake_at(due):
                return
        self.wakeup()

    def wakeup_batch_full(self) -> None:
        """A batch became full (any thread): wake this thread, unless every broker's
        connection is at its in-flight limit. Then nothing can be sent before a response
        comes, and the turn that handles it scans the queues anyway: at full speed this
        saves a loop turn per batch. (acks=0 requests get no response: never skipped.)"""
        if not self.saturated:
            self.wakeup()

    def start(self) -> None:
        self.thread.start()

    # -- connection events (I/O thread) ----------------------------------------------
    def _on_auth_failure(self, error: BaseException) -> None:
        """Credentials or certificates were refused: retrying the same ones cannot help,
        so metadata waiters and queued records fail now with the AuthenticationError
        (Java fails pending sends the same way); later sends retry the connection."""
        self.metadata.auth_failed(error)
        for batch in self.acc.abort_all():
            self.responses.fail_batch(batch, error, unknown_fate=False)

    def _on_connection_ready(self, conn: BrokerConnection) -> None:
        if self.txn is not None:
            # KIP-890 part 2 needs the finalized transaction.version >= 2 and Produce v12.
            self.txn.tv2_supported = (
                conn.finalized_features.get("transaction.version", 0) >= 2
                and conn.api_versions.get("Produce", 0) >= 12)

    # -- main loop ---------------------------------------------------------------------
    def _run(self) -> None:
        set_native_thread_name(self.thread.name)    # what top -H and perf show
        try:
            while self.running:
                self.run_once()
            if self.telemetry is not None:
                self.telemetry.initiate_close(self.clock())   # one terminating push
            # close(): keep sending until everything is done, unless forced.
            while not self.force_close and (self.acc.has_undrained() or self.in_flight_batches
                                            or self._telemetry_pending()):
                if self.fatal_error is not None:
                    break
                self.run_once()
        except BaseException as exc:  # never die silently: fail everything
            log.exception("kprod sender thread crashed")
            self.fatal_error = KafkaError(f"kprod I/O thread crashed: {exc!r}")
            self.metadata.fail_waiters(self.fatal_error)
        finally:
            self._abort_everything(self.fatal_error or ProducerClosedError(
                "Producer closed forcefully before the record was sent"))
            self.network.close()

    def run_once(self) -> None:
        self.saturated = False
        self.network.selector.will_scan()
        now = self.clock()
        timeout_ms = min(1000.0, self.network.maybe_update_metadata(now, self._topics_in_use))
        if self.txn is not None:
            timeout_ms = min(timeout_ms, self._maybe_send_txn_request(now))
        elif self.idem is not None:
            # The checks inline: this runs twice per request (send, then response), and
            # each call on a cold cache costs microseconds.
            if self.idem.producer_id < 0:
                timeout_ms = min(timeout_ms, self._maybe_init_producer_id(now))
            if self.idem.bump_requested:
                self._maybe_bump_epoch()
        timeout_ms = min(timeout_ms, self._send_produce_data(now))
        if self.telemetry is not None:
            timeout_ms = min(timeout_ms, self.telemetry.maybe_send(now))
        if self.in_flight_batches and self.linger_ms > 0 and not self.saturated:
            # Awake at least every linger.ms while waiting for responses (those sent just
            # now included), so a batch opened meanwhile needs no wakeup
            # (wakeup_new_batch): the response's loop sees it in time. Checked before
            # this poll, the request just sent would leave a 1 s poll that the next
            # send() must wake: one whole extra loop per request at low rates. Saturated
            # (every broker at its in-flight limit), only a response lets anything go.
            timeout_ms = min(timeout_ms, float(self.linger_ms))
        for response in self.network.poll(timeout_ms, now):
            response.complete()

    def _telemetry_pending(self) -> bool:
        return self.telemetry is not None and not self.telemetry.done

    def _topics_in_use(self) -> Set[str]:
        return (self.acc.topics_with_batches()
                | {b.tp[0] for batches in self.in_flight_batches.values() for b in batches})

    # -- idempotence ---------------------------------------------------------------------
    def _maybe_init_producer_id(self, now: float) -> float:
        idem = self.idem
        assert idem is not None         # called with idempotence only (also below)
        if idem.has_producer_id or self._pid_in_flight:
            return 1000.0
        if now < self._pid_next_attempt:
            return self._pid_next_attempt - now
        conn = self.network.least_loaded(now)
        if conn is None:
            return 50.0
        body = types.InitProducerIdRequest(transactional_id=None,
                                           transaction_timeout_ms=self.transaction_timeout_ms,
                                           producer_id=-1, producer_epoch=-1)
        self._pid_in_flight = True
        self.network.send(conn, "InitProducerId", body, self._on_producer_id)
        return self.request_timeout_ms

    def _on_producer_id(self, response, error: Optional[BaseException]) -> None:
        self._pid_in_flight = False
        if error is None and response.error_code != 0:
            error = error_for_code(response.error_code, "InitProducerId")
            if isinstance(error, _FATAL_INIT_ERRORS):
                self._fatal(error)
                return
        if error is not None:
            self._pid_next_attempt = self.clock() + self.acc.retry_backoff_ms
            return
        idem = self.idem
        assert idem is not None and response is not None
        idem.set_producer_id(response.producer_id, response.producer_epoch)
        log.debug("Producer id %d epoch %d", idem.producer_id, idem.epoch)

    def _maybe_bump_epoch(self) -> None:
        idem = self.idem
        assert idem is not None
        if not idem.bump_requested or self.in_flight_batches:
            return
        if not idem.bump_epoch_locally():
            idem.producer_id = -1        # epoch exhausted: get a fresh producer id
            idem.epoch = -1
            idem.bump_requested = False
        log.info("Bumped producer epoch to %d (producer id %d) to reset sequences",
                 idem.epoch, idem.producer_id)
        for tp, state in idem.partitions.items():
            retries = [b for b in state.in_flight if b.final_state is None]
            if idem.has_producer_id:
                idem.restamp_for_new_epoch(tp, retries)
            else:
                for batch in retries:
                    batch.base_sequence = -1
                state.in_flight = []

    # -- transactions ----------------------------------------------------------------------
    def _may_drain_txn(self, batch: ProducerBatch) -> bool:
        txn, idem = self.txn, self.idem
        assert txn is not None and idem is not None    # transactions imply idempotence
        return txn.may_drain(batch.tp) and idem.may_drain(batch)

    def _maybe_send_txn_request(self, now: float) -> float:
        txn = self.txn
        assert txn is not None
        if txn.state == ABORTING and not self._undrained_aborted:
            self._abort_undrained(TransactionAbortedError(
                "The transaction was aborted before the record was sent"))
            self._undrained_aborted = True
        elif txn.state != ABORTING:
            self._undrained_aborted = False
        if txn.state == FATAL_ERROR and self.fatal_error is None:
            self._fatal(txn.last_error or KafkaError("transaction manager failed"))
            return 1000.0
        request = txn.next_request(now, bool(self.acc.incomplete))
        if request is None:
            return min(txn.next_wait_ms(now), 1000.0)
        conn = self._txn_connection(request, now)
        if conn is None or not self.network.can_send(conn, now):
            if conn is not None and request.target != "any" and conn.last_error is not None \
                    and conn.state in (DISCONNECTED, CLOSED):
                # The coordinator's broker is gone (connect refused / timed out): find
                # the new coordinator instead of retrying the dead one forever.
                txn.coordinator_unreachable(request, now)
                return 20.0
            txn.unsend(request)
            if conn is not None:         # a throttled broker (KIP-219): when it ends
                return max(self.network.throttles.delay_ms(conn.node_id, now), 20.0)
            return 20.0
        try:
            body = request.build()

            def on_response(response, error, request=request):
                txn.on_response(request, response, error)
                self.wakeup()

            self.network.send(conn, request.api, body, on_response)
        except KafkaError as exc:
            txn.in_flight = None
            txn.fatal(exc)
        return 0.0

    def _txn_connection(self, request: TxnRequest, now: float) -> Optional[BrokerConnection]:
        if request.target == "any":
            return self.network.least_loaded(now)
        assert self.txn is not None
        node = self.txn.coordinators.get(request.target)
        if node is None:
            return None
        node_id, host, port = node
        return self.network.coordinator(node_id, host, port, now)

    def _abort_undrained(self, error: BaseException) -> None:
        """Java abortUndrainedBatches: queued batches of an aborted transaction fail."""
        for batch in self.acc.abort_undrained(error):
            self.metrics.record_error(batch.tp[0], batch.record_count)

    def _fatal(self, error: BaseException) -> None:
        log.error("Fatal producer error: %s", error)
        self.fatal_error = error
        if self.idem is not None:
            self.idem.fatal_error = error
        self.metadata.fail_waiters(error)
        self._abort_everything(error)

    # -- produce -------------------------------------------------------------------------
    def _update_load_stats(self, now: float) -> None:
        unavailable = set()
        if self.availability_timeout_ms > 0:
            unavailable = {node for node, since in self.node_unready_since.items()
                           if now - since > self.availability_timeout_ms}
        if self.adaptive or unavailable:
            self.acc.update_partition_load_stats(self.metadata.snapshot.topics, unavailable)

    def _send_produce_data(self, now: float) -> float:
        md = self.metadata
        network = self.network
        if self.acc.partitioner.states:
            self._update_load_stats(now)
        selector = network.selector
        selector.scanning()         # a batch opened from now on is not in this scan
        by_node: Dict[int, List[TopicPartition]] = {}
        topics = md.snapshot.topics      # leader_for's lookups, done natively
        ready, next_ready_ms, unknown = self.acc.ready(md.leader_for, now, by_node, topics)
        for topic in unknown:
            md.request_topic(topic)
            md.request_update()
        timeout = next_ready_ms
        timeout_not_ready = float("inf")   # reconnect waits of nodes with data
        sent = False
        if ready:
            may_drain = self._may_drain_txn if self.txn is not None else (
                self.idem.may_drain if self.idem is not None else _always)
            for node_id, partitions in by_node.items():
                conn = network.connection(node_id)
                if conn is None:
                    md.request_update()
                    continue
                if not network.ready(conn, now):
                    self.node_unready_since.setdefault(node_id, now)
                    # reconnect backoff or throttle (KIP-219); a connection being set
                    # up is waited for by I/O (inf)
                    wait = network.poll_delay_ms(conn, now)
                    timeout = min(timeout, wait)
                    timeout_not_ready = min(timeout_not_ready, wait)
                    continue
                self.node_unready_since.pop(node_id, None)
                if not conn.can_send_more():
                    continue
                batches = self.acc.drain(node_id, partitions, self.max_request_size, now,
                                         may_drain)
                if batches:
                    # the queues get scanned again below (batches opened meanwhile too)
                    selector.will_scan()
                    self._send_produce(conn, batches, now)
                    sent = True
        if sent:
            # What is left decides the poll timeout. (Looping again at once instead cost
            # a whole extra loop per request at low rates.) Data still sendable on a
            # connection that can take another request means no wait; otherwise the
            # next linger/backoff deadline, or a response, wakes us.
            selector.scanning()
            ready, next_ready_ms, _ = self.acc.ready(md.leader_for, now, None,
                                                     md.snapshot.topics)
            timeout = min(timeout_not_ready, next_ready_ms)
            for node_id in ready:
                conn = network.connections.get(node_id)
                if conn is not None and network.can_send(conn, now):
                    timeout = 0
                    break
        if self.acks != 0:
            self.saturated = network.saturated()
        return min(timeout, self._expire(now))

    def _send_produce(self, conn: BrokerConnection, batches: List[ProducerBatch],
                      now: float) -> None:
        idem, txn = self.idem, self.txn
        transactional = txn is not None
        topics: Dict[str, List[Tuple[int, memoryview]]] = {}
        record_batch = self.metrics.record_batch
        touch = self.metadata.touch
        guarantee_order = self.guarantee_order
        records = 0
        for batch in batches:
            payload = batch.payload
            assert payload is not None           # drained batches are closed
            records += batch.record_count
            if idem is not None:
                idem.assign(batch, transactional=transactional)
            # Java's updateProduceRequestMetrics, per batch put into a request.
            builder = batch.builder
            topic, partition = batch.tp
            uncompressed = builder.uncompressed_size_in_bytes if builder is not None else 0
            record_batch(topic, batch.record_count, len(payload),
                         builder.max_record_size if builder is not None else 0,
                         batch.attempts == 0, now - batch.created_ms,
                         len(payload) / uncompressed if uncompressed else None)
            batch.in_flight = True
            batch.last_attempt_ms = now
            if guarantee_order:
                self.acc.mute(batch.tp)
            parts = topics.get(topic)
            if parts is None:
                touch(topic)                     # in use: keep its metadata fresh
                parts = topics[topic] = []
            parts.append((partition, payload))
        if txn is not None:
            txn.on_produce_sent()
        # Produce v13 names topics by id (KIP-516); a topic whose id the metadata lacks
        # (ZERO_UUID) keeps the request at v12 (ProduceData.max_version).
        known = self.metadata.snapshot.topics
        topic_data = []
        names_by_id: Dict[int, str] = {}      # by the id's int: see ProduceResponseHandler
        ids_known = True
        for name, parts in topics.items():
            info = known.get(name)
            topic_id = info.topic_id if info is not None else None
            if topic_id is None or not topic_id.int:   # ZERO_UUID: an int test, no call
                topic_id = ZERO_UUID
                ids_known = False
            names_by_id[topic_id.int] = name
            topic_data.append((name, topic_id, parts))
        body = ProduceData(self.transactional_id, self.acks, self.request_timeout_ms,
                           topic_data, ids_known)
        request_id = id(batches)
        self.in_flight_batches[request_id] = batches
        node_id = conn.node_id

        def on_response(response, error):
            self.in_flight_batches.pop(request_id, None)
            now = self.clock()
            if self.guarantee_order:
                for batch in batches:
                    self.acc.unmute(batch.tp)
            self.responses.handle(node_id, batches, response, error, now_sent, now,
                                  names_by_id)

        now_sent = now
        self.metrics.record_request(records)
        if self.on_produce is not None:
            self.on_produce(batches)
        self.network.send(conn, "Produce", body, on_response, expect_response=self.acks != 0)

    def _expire(self, now: float) -> float:
        soonest = self.acc.next_expiry_ms(now)
        if soonest > 0:     # no queue's head is due: nothing to expire yet
            return soonest
        responses = self.responses
        for batch, fate_unknown in self.acc.expire(now):
            if fate_unknown and self.idem is not None:
                self.idem.mark_unresolved(batch)      # a retry: fail, sequence unresolved
            responses.fail_batch(batch, responses.expiry_error(batch, now),
                                 unknown_fate=fate_unknown)
        return self.acc.next_expiry_ms(now)

    def _abort_everything(self, error: BaseException) -> None:
        fail = self.responses.fail_batch
        for batch in self.acc.abort_all():
            fail(batch, error, unknown_fate=False)
        for batches in list(self.in_flight_batches.values()):
            for batch in batches:
                fail(batch, error, unknown_fate=True)
        self.in_flight_batches.clear()
        for batch in self.acc.incomplete_snapshot():
            fail(batch, error, unknown_fate=False)


def _always(batch: ProducerBatch) -> bool:
    return True
