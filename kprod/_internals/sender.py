"""The I/O thread: metadata, producer id, drain ready batches into ProduceRequests,
handle responses, retries and expiry (Java's ``Sender`` loop, research §7.9-7.11).

Everything network-related happens on this one thread; caller threads only
append to the accumulator and call :meth:`Sender.wakeup`. Batch outcomes (and
so user callbacks) are delivered from this thread with no internal lock held.
"""
from __future__ import annotations

import logging
import math
import os
import selectors
import threading
from typing import Callable, Dict, List, Optional, Tuple

from kprod._internals.accumulator import RecordAccumulator
from kprod._internals.batch import ProducerBatch
from kprod._internals.connection import (
    BrokerConnection, ConnectionSettings,
)
from kprod._internals.idempotence import IdempotenceState
from kprod._internals.transactions import (
    ABORTING, TransactionAbortedError, TransactionManager, TxnRequest,
)
from kprod._internals.metadata import Broker, Metadata
from kprod._internals.metrics import ProducerMetrics
from kprod._internals.protocol import types
from kprod.errors import (
    BrokerError, KafkaError, KafkaTimeoutError, ProducerClosedError,
    ProducerFencedError, RecordTooLargeError, error_for_code,
)

log = logging.getLogger("kprod.sender")

TopicPartition = Tuple[str, int]

# Versions kprod implements per API (the broker's range decides the one used).
SUPPORTED = {
    "ApiVersions": (0, 4), "Metadata": (4, 12), "Produce": (3, 12),
    "InitProducerId": (0, 5), "FindCoordinator": (0, 6), "AddPartitionsToTxn": (0, 3),
    "AddOffsetsToTxn": (0, 4), "TxnOffsetCommit": (0, 5), "EndTxn": (0, 5),
    "SaslHandshake": (0, 1), "SaslAuthenticate": (0, 2),
}

# Errors after which the partition's leader may have moved: refresh metadata.
_METADATA_ERRORS = {3, 5, 6, 9, 74, 75, 100, 103}
_DUPLICATE_SEQUENCE = 46
_OUT_OF_ORDER_SEQUENCE = 45
_UNKNOWN_PRODUCER_ID = 59
_INVALID_PRODUCER_EPOCH = 47
_MESSAGE_TOO_LARGE = 10


class Sender:
    def __init__(self, config, metadata: Metadata, accumulator: RecordAccumulator,
                 idempotence: Optional[IdempotenceState], metrics: ProducerMetrics,
                 clock: Callable[[], float],
                 transactions: Optional[TransactionManager] = None) -> None:
        self.config = config
        self.metadata = metadata
        self.acc = accumulator
        self.idem = idempotence
        self.txn = transactions
        self.transactional_id = transactions.transactional_id if transactions else None
        self.metrics = metrics
        self.clock = clock
        self.settings = ConnectionSettings(config)
        self.acks = config.acks
        self.request_timeout_ms = config["request.timeout.ms"]
        self.max_request_size = config["max.request.size"]
        self.retries = config["retries"]
        self.delivery_timeout_ms = config["delivery.timeout.ms"]
        self.transaction_timeout_ms = config["transaction.timeout.ms"]
        self.guarantee_order = config["max.in.flight.requests.per.connection"] == 1
        self.adaptive = config["partitioner.adaptive.partitioning.enable"]
        self.availability_timeout_ms = config["partitioner.availability.timeout.ms"]
        self.node_unready_since: Dict[int, float] = {}
        self.selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._wakeup_pending = False
        # What a send() that opened a batch needs to know to skip the wakeup (see
        # wakeup_new_batch): None while this thread is awake and will still scan the
        # queues before it sleeps; 0.0 once that scan is done; while polling, the
        # clock time (ms) by which the poll returns.
        self._wake_deadline: Optional[float] = 0.0
        self.linger_ms = config["linger.ms"]
        self._registered: Dict[int, int] = {}     # id(connection) -> registered fd
        self.connections: Dict[int, BrokerConnection] = {}
        self.bootstrap: List[BrokerConnection] = []
        for i, server in enumerate(config["bootstrap.servers"]):
            host, _, port = server.rpartition(":")
            conn = self._new_connection(-(i + 1), host.strip("[]"), int(port))
            self.bootstrap.append(conn)
        self.running = True
        self.force_close = False
        self.in_flight_batches: Dict[int, List[ProducerBatch]] = {}  # request id -> batches
        self._metadata_in_flight = False
        self._undrained_aborted = False
        self._pid_in_flight = False
        self._pid_next_attempt = 0.0
        self.fatal_error: Optional[BaseException] = None
        # MESSAGE_TOO_LARGE splits (Java's batch-split-total), and per topic what the
        # broker's size limit is known to be: [largest batch accepted, smallest rejected]
        # (wire bytes; only for topics that had a rejection).
        self.batch_split_total = 0
        self._size_bounds: Dict[str, List[Optional[int]]] = {}
        self.thread = threading.Thread(target=self._run, name="kprod-sender", daemon=True)

    # -- caller threads --------------------------------------------------------------
    def wakeup(self) -> None:
        """Latched, coalesced wakeup: at most one byte in the pipe at a time."""
        if not self._wakeup_pending:
            self._wakeup_pending = True
            try:
                os.write(self._wake_w, b"x")
            except (BlockingIOError, OSError):
                pass

    def wakeup_new_batch(self, since_ms: float) -> None:
        """A send() opened a batch at or after ``since_ms`` (clock ms): wake this thread
        unless it will look at the queues in time anyway, i.e. it is awake and has not
        scanned them yet, or it polls until no later than the batch's linger expiry.
        At low rates this saves a wakeup (a whole loop) per request: the poll is capped
        at linger.ms while requests are in flight (run_once)."""
        deadline = self._wake_deadline
        if deadline is None:
            return
        acc = self.acc
        if 0.0 < deadline <= since_ms + self.linger_ms and not (
                acc.flushes_in_progress or acc.closed or acc.pool.queued):
            return
        self.wakeup()

    def start(self) -> None:
        self.thread.start()

    # -- connections -------------------------------------------------------------------
    def _new_connection(self, node_id: int, host: str, port: int) -> BrokerConnection:
        conn = BrokerConnection(node_id, host, port, self.settings, self.clock, SUPPORTED)
        conn.on_state_change = self._on_connection_state
        conn.on_auth_failure = self._on_auth_failure
        return conn

    def _on_auth_failure(self, error: BaseException) -> None:
        """Credentials or certificates were refused: retrying the same ones cannot help,
        so metadata waiters and queued records fail now with the AuthenticationError
        (Java fails pending sends the same way); later sends retry the connection."""
        self.metadata.auth_failed(error)
        for batch in self.acc.abort_all():
            self._fail_batch(batch, error, unknown_fate=False)

    def _on_connection_state(self, conn: BrokerConnection) -> None:
        """Keep the selector in step with the connection's socket (registered by fd)."""
        fd = conn.sock.fileno() if conn.sock is not None else -1
        old = self._registered.get(id(conn), -1)
        if old != -1 and old != fd:
            try:
                self.selector.unregister(old)
            except (KeyError, ValueError):
                pass
            del self._registered[id(conn)]
        if fd != -1:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.wants_write() else 0)
            if old == fd:
                self.selector.modify(fd, events, conn)
            else:
                self.selector.register(fd, events, conn)
                self._registered[id(conn)] = fd
        if conn.last_error is not None and conn.node_id >= 0:
            self.metadata.request_update()
        if self.txn is not None and conn.ready:
            # KIP-890 part 2 needs the finalized transaction.version >= 2 and Produce v12.
            self.txn.tv2_supported = (
                conn.finalized_features.get("transaction.version", 0) >= 2
                and conn.api_versions.get("Produce", 0) >= 12)

    def _connection(self, node_id: int) -> Optional[BrokerConnection]:
        conn = self.connections.get(node_id)
        broker = self.metadata.snapshot.brokers.get(node_id)
        if conn is None:
            if broker is None:
                return None
            conn = self.connections[node_id] = self._new_connection(node_id, broker.host,
                                                                    broker.port)
        elif broker is not None and (conn.host, conn.port) != (broker.host, broker.port) \
                and not conn.in_flight:
            conn.close(None)
            conn = self.connections[node_id] = self._new_connection(node_id, broker.host,
                                                                    broker.port)
        return conn

    def _ensure_connected(self, conn: BrokerConnection, now: float) -> bool:
        if conn.ready:
            return True
        if conn.can_connect(now):
            conn.connect(now)
        return conn.ready

    def _least_loaded(self, now: float) -> Optional[BrokerConnection]:
        """A ready connection with the fewest in-flight requests, else start one."""
        candidates = list(self.connections.values())
        if not any(c.node_id >= 0 for c in candidates) or not self.metadata.snapshot.brokers:
            candidates += self.bootstrap
        else:
            for node_id in self.metadata.snapshot.brokers:
                conn = self._connection(node_id)
                if conn is not None and conn not in candidates:
                    candidates.append(conn)
        ready = [c for c in candidates if c.ready and c.can_send_more()]
        if ready:
            return min(ready, key=lambda c: len(c.in_flight))
        if any(c.state not in ("DISCONNECTED", "CLOSED") for c in candidates):
            return None          # a connection is being set up
        for conn in sorted(candidates, key=lambda c: c.next_attempt_ms):
            if conn.can_connect(now):
                conn.connect(now)
                if conn.ready:
                    return conn
                return None
        if all(c.state == "CLOSED" for c in candidates) and not self.bootstrap[0].sock:
            # rebootstrap (KIP-899): known brokers all failing, also try the bootstrap list
            for conn in self.bootstrap:
                if conn.can_connect(now):
                    conn.connect(now)
                    break
        return None

    # -- main loop ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while self.running:
                self.run_once()
            # close(): keep sending until everything is done, unless forced.
            while not self.force_close and (self.acc.has_undrained() or self.in_flight_batches):
                if self.fatal_error is not None:
                    break
                self.run_once()
        except BaseException as exc:  # never die silently: fail everything
            log.exception("kprod sender thread crashed")
            self.fatal_error = KafkaError(f"kprod I/O thread crashed: {exc!r}")
            self.metadata.fail_waiters(self.fatal_error)
        finally:
            self._wake_deadline = 0.0       # not polling any more: always wake
            self._abort_everything(self.fatal_error or ProducerClosedError(
                "Producer closed forcefully before the record was sent"))
            for conn in list(self.connections.values()) + self.bootstrap:
                if conn.sock is not None:
                    conn.on_state_change = None
                    conn.close(None)
            self.selector.close()
            os.close(self._wake_r)
            os.close(self._wake_w)

    def run_once(self) -> None:
        self._wake_deadline = None          # awake: the queues get scanned below
        now = self.clock()
        timeout_ms = 1000.0
        if self.in_flight_batches and self.linger_ms > 0:
            # Awake at least every linger.ms while waiting for responses, so a batch
            # opened meanwhile needs no wakeup (wakeup_new_batch).
            timeout_ms = float(self.linger_ms)
        timeout_ms = min(timeout_ms, self._maybe_update_metadata(now))
        if self.txn is not None:
            timeout_ms = min(timeout_ms, self._maybe_send_txn_request(now))
        elif self.idem is not None:
            timeout_ms = min(timeout_ms, self._maybe_init_producer_id(now))
            self._maybe_bump_epoch()
        timeout_ms = min(timeout_ms, self._send_produce_data(now))
        for conn in list(self.connections.values()) + self.bootstrap:
            conn.check_timeouts(now)
            timeout_ms = min(timeout_ms, conn.next_timeout_ms(now))
        self._poll(max(timeout_ms, 0) / 1000.0)

    def _poll(self, timeout_s: float) -> None:
        # epoll waits whole milliseconds, rounded up: publish when this poll returns at
        # the latest (the caller may then skip the pipe write; see wakeup_new_batch).
        self._wake_deadline = self.clock() + math.ceil(timeout_s * 1000.0)
        events = self.selector.select(timeout_s)
        self._wake_deadline = None
        now = self.clock()
        for key, mask in events:
            conn = key.data
            if conn is None:
                try:
                    while os.read(self._wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                # Clear the latch only after draining: cleared first, a wakeup() landing
                # between the two would leave it set with its byte already consumed, and
                # every later wakeup() would be skipped (the loop then only runs on its
                # 1 s poll timeout).
                self._wakeup_pending = False
                continue
            if mask & selectors.EVENT_WRITE and conn.sock is not None:
                conn.on_writable(now)
            if mask & selectors.EVENT_READ and conn.sock is not None:
                conn.on_readable(now)
            if conn.sock is not None:
                events_wanted = selectors.EVENT_READ | (
                    selectors.EVENT_WRITE if conn.wants_write() else 0)
                if key.events != events_wanted:
                    self.selector.modify(key.fd, events_wanted, conn)

    # -- metadata ------------------------------------------------------------------------
    def _maybe_update_metadata(self, now: float) -> float:
        md = self.metadata
        wait = md.time_to_next_update(now)
        if wait > 0 or self._metadata_in_flight:
            return wait if wait > 0 else 1000.0
        conn = self._least_loaded(now)
        if conn is None:
            return 50.0
        topics = md.topics_to_fetch(
            {tp[0] for tp, q in self.acc.queues.items() if q.batches}
            | {b.tp[0] for batches in self.in_flight_batches.values() for b in batches})
        body = types.MetadataRequest(topics=[types.MetadataRequestTopic(name=t) for t in topics],
                                     allow_auto_topic_creation=True,
                                     include_topic_authorized_operations=False)
        self._metadata_in_flight = True
        md.last_attempt_ms = now

        def on_response(response, error):
            self._metadata_in_flight = False
            if error is not None:
                log.debug("Metadata request failed: %s", error)
                md.request_update()
                return
            md.update(response, self.clock())
            self._connect_new_brokers()

        conn.send("Metadata", body, on_response)
        return self.request_timeout_ms

    def _connect_new_brokers(self) -> None:
        for node_id in self.metadata.snapshot.brokers:
            self._connection(node_id)

    # -- idempotence ---------------------------------------------------------------------
    def _maybe_init_producer_id(self, now: float) -> float:
        idem = self.idem
        if idem.has_producer_id or self._pid_in_flight:
            return 1000.0
        if now < self._pid_next_attempt:
            return self._pid_next_attempt - now
        conn = self._least_loaded(now)
        if conn is None:
            return 50.0
        body = types.InitProducerIdRequest(transactional_id=None,
                                           transaction_timeout_ms=self.transaction_timeout_ms,
                                           producer_id=-1, producer_epoch=-1)
        self._pid_in_flight = True

        def on_response(response, error):
            self._pid_in_flight = False
            if error is None and response.error_code != 0:
                error = error_for_code(response.error_code, "InitProducerId")
            if error is not None:
                if isinstance(error, BrokerError) and not error.retriable and \
                        response is not None and response.error_code in (31, 53, 35):
                    self._fatal(error)
                else:
                    self._pid_next_attempt = self.clock() + self.acc.retry_backoff_ms
                return
            idem.set_producer_id(response.producer_id, response.producer_epoch)
            log.debug("Producer id %d epoch %d", idem.producer_id, idem.epoch)

        conn.send("InitProducerId", body, on_response)
        return self.request_timeout_ms

    def _maybe_bump_epoch(self) -> None:
        idem = self.idem
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
        return self.txn.may_drain(batch.tp) and self.idem.may_drain(batch)

    def _maybe_send_txn_request(self, now: float) -> float:
        txn = self.txn
        if txn.state == ABORTING and not self._undrained_aborted:
            self._abort_undrained(TransactionAbortedError(
                "The transaction was aborted before the record was sent"))
            self._undrained_aborted = True
        elif txn.state != ABORTING:
            self._undrained_aborted = False
        if txn.state == "FATAL_ERROR" and self.fatal_error is None:
            self._fatal(txn.last_error)
            return 1000.0
        request = txn.next_request(now, bool(self.acc.incomplete))
        if request is None:
            return min(txn.next_wait_ms(now), 1000.0)
        conn = self._txn_connection(request, now)
        if conn is None or not conn.ready or not conn.can_send_more():
            if conn is not None and request.target != "any" and conn.last_error is not None \
                    and conn.state in ("DISCONNECTED", "CLOSED"):
                # The coordinator's broker is gone (connect refused / timed out): find
                # the new coordinator instead of retrying the dead one forever.
                txn.coordinator_unreachable(request, now)
                return 20.0
            txn.unsend(request)
            return 20.0
        try:
            body = request.build()

            def on_response(response, error, request=request):
                txn.on_response(request, response, error)
                self.wakeup()

            conn.send(request.api, body, on_response)
        except KafkaError as exc:
            txn.in_flight = None
            txn.fatal(exc)
        return 0.0

    def _txn_connection(self, request: TxnRequest, now: float) -> Optional[BrokerConnection]:
        if request.target == "any":
            return self._least_loaded(now)
        node = self.txn.coordinators.get(request.target)
        if node is None:
            return None
        node_id, host, port = node
        conn = self.connections.get(node_id)
        if conn is None:
            conn = self._connection(node_id)
        if conn is None:
            conn = self.connections[node_id] = self._new_connection(node_id, host, port)
        self._ensure_connected(conn, now)
        return conn

    def _abort_undrained(self, error: BaseException) -> None:
        """Java abortUndrainedBatches: queued batches of an aborted transaction fail."""
        for q in list(self.acc.queues.values()):
            with q.lock:
                keep = [b for b in q.batches if b.has_sequence]   # already sent: in flight
                aborted = [b for b in q.batches if not b.has_sequence]
                q.batches.clear()
                q.batches.extend(keep)
            for batch in aborted:
                self.acc.batch_done(batch)
                count = batch.builder.num_records if batch.builder is not None else 0
                if batch.complete(-1, -1, error):
                    self.metrics.record_error(count)

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
        if self.acc.partitioner._topics:
            self._update_load_stats(now)
        self._wake_deadline = 0.0   # a batch opened from now on is not in this scan
        ready, next_ready_ms, unknown = self.acc.ready(md.leader_for, now)
        for topic in unknown:
            md.request_topic(topic)
            md.request_update()
        timeout = next_ready_ms
        timeout_not_ready = float("inf")   # reconnect waits of nodes with data
        sent = False
        if ready:
            by_node: Dict[int, List[TopicPartition]] = {}
            for tp in self.acc.queues:
                leader = md.leader_for(tp)
                if leader in ready:
                    by_node.setdefault(leader, []).append(tp)
            may_drain = self._may_drain_txn if self.txn is not None else (
                self.idem.may_drain if self.idem is not None else _always)
            for node_id, partitions in by_node.items():
                conn = self._connection(node_id)
                if conn is None:
                    md.request_update()
                    continue
                if not self._ensure_connected(conn, now):
                    self.node_unready_since.setdefault(node_id, now)
                    if conn.state in ("DISCONNECTED", "CLOSED"):
                        wait = max(conn.next_attempt_ms - now, 0)
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
                    self._wake_deadline = None
                    self._send_produce(conn, batches, now)
                    sent = True
        if sent:
            # What is left decides the poll timeout. (Looping again at once instead cost
            # a whole extra loop per request at low rates.) Data still sendable on a
            # connection that can take another request means no wait; otherwise the
            # next linger/backoff deadline, or a response, wakes us.
            self._wake_deadline = 0.0
            ready, next_ready_ms, _ = self.acc.ready(md.leader_for, now)
            timeout = min(timeout_not_ready, next_ready_ms)
            for node_id in ready:
                conn = self.connections.get(node_id)
                if conn is not None and conn.ready and conn.can_send_more():
                    timeout = 0
                    break
        timeout = min(timeout, self._expire(now))
        return timeout

    def _send_produce(self, conn: BrokerConnection, batches: List[ProducerBatch],
                      now: float) -> None:
        idem = self.idem
        topics: Dict[str, list] = {}
        metrics = self.metrics
        touch = self.metadata.touch
        for batch in batches:
            if idem is not None:
                idem.assign(batch, transactional=self.txn is not None)
            if batch.attempts == 0:
                # record-queue-time-avg / compression-rate-avg (Java records them when a
                # batch is drained); only first attempts, a retry is the same batch.
                metrics.record_queue_time(now - batch.created_ms)
                builder = batch.builder
                if builder is not None:
                    metrics.record_compression(builder.uncompressed_size_in_bytes,
                                               len(batch.payload))
            batch.in_flight = True
            batch.last_attempt_ms = now
            if self.guarantee_order:
                self.acc.queue(batch.tp).muted = True
            if batch.tp[0] not in topics:
                touch(batch.tp[0])           # in use: keep its metadata fresh
            topics.setdefault(batch.tp[0], []).append(
                types.PartitionProduceData(batch.tp[1], batch.payload))
        if self.txn is not None:
            self.txn.on_produce_sent()
        body = types.ProduceRequest(
            transactional_id=self.transactional_id, acks=self.acks,
            timeout_ms=self.request_timeout_ms,
            topic_data=[types.TopicProduceData(name=t, partition_data=p) for t, p in topics.items()])
        request_id = id(batches)
        self.in_flight_batches[request_id] = batches
        sent_ms = now

        def on_response(response, error):
            self.in_flight_batches.pop(request_id, None)
            self._handle_produce_response(conn, batches, response, error, sent_ms)

        # Metrics first: with acks=0 conn.send() may write the whole request at once and
        # complete the batches (releasing their payloads) before it returns.
        self.metrics.record_request(len(batches), sum(b.record_count for b in batches),
                                    sum(len(b.payload) for b in batches))
        expect = self.acks != 0
        conn.send("Produce", body, on_response, expect_response=expect)

    def _handle_produce_response(self, conn: BrokerConnection, batches: List[ProducerBatch],
                                 response: Optional[types.ProduceResponse],
                                 error: Optional[BaseException],
                                 sent_ms: float) -> None:
        now = self.clock()
        if self.guarantee_order:
            for batch in batches:
                self.acc.queue(batch.tp).muted = False
        if error is not None:
            for batch in batches:
                self._fail_or_retry(batch, error, now, unknown_fate=True)
            self.metadata.request_update()
            return
        self.metrics.record_latency(now - sent_ms)
        if response is None:   # acks=0: no answer; complete with offset -1 (as Java)
            for batch in batches:
                self._complete_batch(batch, -1, -1)
            return
        results = {}
        for topic in response.responses:
            for p in topic.partition_responses:
                results[(topic.name, p.index)] = p
        endpoints = {e.node_id: Broker(e.node_id, e.host, e.port, e.rack)
                     for e in response.node_endpoints or ()}
        for batch in batches:
            p = results.get(batch.tp)
            if p is None:
                self._fail_or_retry(batch, KafkaError(
                    f"Produce response from broker {conn.node_id} lacks {batch.tp}"), now, True)
                continue
            code = p.error_code
            if code == 0:
                self._complete_batch(batch, p.base_offset, p.log_append_time_ms)
            elif code == _DUPLICATE_SEQUENCE:
                # The broker has this batch already (KIP-98): a success, offset unknown.
                self._complete_batch(batch, -1, -1)
            else:
                message = p.error_message or None
                record_errors = p.record_errors or ()
                if record_errors:
                    details = "; ".join(f"record {e.batch_index}: "
                                        f"{e.batch_index_error_message}"
                                        for e in record_errors[:5])
                    message = f"{message or ''} ({details})".strip()
                err = error_for_code(code, message)
                leader = p.current_leader
                if code in _METADATA_ERRORS:
                    if leader.leader_id >= 0 and self.metadata.update_leader(
                            batch.tp, leader.leader_id, leader.leader_epoch, endpoints):
                        batch.backoff_ms = 0          # KIP-951: no backoff on a known move
                    else:
                        self.metadata.request_update()
                self._handle_error(batch, code, err, now)

    def _handle_error(self, batch: ProducerBatch, code: int, err: BaseException,
                      now: float) -> None:
        idem = self.idem
        if code == _MESSAGE_TOO_LARGE:
            self._message_too_large(batch, err, now)
            return
        if self.txn is not None and code == _OUT_OF_ORDER_SEQUENCE and \
                self._gap_being_filled(batch) and self._can_retry(batch, now):
            # An earlier batch of the partition is still being retried or was split (the
            # broker never wrote it): retry behind it, in sequence order (Java
            # TransactionManager.canRetry), instead of dooming the transaction.
            self.acc.reenqueue(batch, now)
            return
        if self.txn is not None and code in (_OUT_OF_ORDER_SEQUENCE, _UNKNOWN_PRODUCER_ID,
                                             _INVALID_PRODUCER_EPOCH, 90, 120):
            # Inside a transaction these are not retried: fencing is fatal, the rest
            # make the transaction abortable (Java TransactionManager).
            if code in (_INVALID_PRODUCER_EPOCH, 90):
                err = ProducerFencedError(
                    f"transactional.id {self.transactional_id!r} was fenced by a newer "
                    f"producer ({err})")
                self.txn.fatal(err)
            self._fail_batch(batch, err, unknown_fate=False)
            return
        if idem is not None and code in (_OUT_OF_ORDER_SEQUENCE, _UNKNOWN_PRODUCER_ID):
            state = idem.partition(batch.tp)
            first_unacked = (state.last_acked_sequence + 1) & 0x7FFFFFFF \
                if state.last_acked_sequence >= 0 else 0
            if code == _OUT_OF_ORDER_SEQUENCE and batch.base_sequence != first_unacked \
                    and not state.unresolved:
                # An earlier batch of this partition failed first (its retry will fill
                # the gap): just retry, in sequence order (Java canRetry). Bumping the
                # epoch here would needlessly restamp every in-flight batch.
                pass
            else:
                # The broker lost our state (UNKNOWN_PRODUCER_ID, KAFKA-5793) or really
                # misses the batch before this one: reset sequences with a new epoch
                # (KIP-360) and retry.
                idem.request_epoch_bump(batch.tp)
            if self._can_retry(batch, now):
                self.acc.reenqueue(batch, now)
                return
        elif idem is not None and code == _INVALID_PRODUCER_EPOCH:
            idem.request_epoch_bump(batch.tp)
            if self._can_retry(batch, now):
                self.acc.reenqueue(batch, now)
                return
        elif isinstance(err, BrokerError) and err.retriable and self._can_retry(batch, now):
            self.metrics.record_retry(batch.record_count)
            self.acc.reenqueue(batch, now)
            return
        self._fail_batch(batch, err, unknown_fate=False)

    def _gap_being_filled(self, batch: ProducerBatch) -> bool:
        """Every batch of the partition sent before this one is still live (queued for
        retry or in flight), so the sequence gap the broker saw will be filled."""
        if self.idem is None or not batch.has_sequence:
            return False
        state = self.idem.partition(batch.tp)
        if state.unresolved:
            return False
        try:
            at = state.in_flight.index(batch)
        except ValueError:
            return False
        earlier = state.in_flight[:at]
        return bool(earlier) and all(b.final_state is None for b in earlier)

    def _message_too_large(self, batch: ProducerBatch, err: BaseException,
                           now: float) -> None:
        """MESSAGE_TOO_LARGE: split the batch and retry the pieces (Java
        Sender.completeBatch -> RecordAccumulator.splitAndReenqueue); a single record
        fails with RecordTooLargeError.

        Java splits into batch.size pieces, which loops for ever when the topic's
        max.message.bytes is below batch.size. Here no piece gets more than half the
        records (so the recursion ends at single records) nor more bytes than
        min(batch.size, what the broker is known to accept for the topic: the largest
        batch it accepted, at least half the smallest it rejected). A split is not a
        retry (attempts and retries untouched, as Java); delivery.timeout.ms still
        counts from the big batch's creation."""
        topic = batch.tp[0]
        size = len(batch.payload) if batch.payload is not None else batch.estimated_size()
        bounds = self._size_bounds.setdefault(topic, [0, None])
        if bounds[1] is None or size < bounds[1]:
            bounds[1] = size
        if bounds[0] >= size:       # the limit was lowered since: forget the old bound
            bounds[0] = 0
        count = batch.record_count
        expired = now - batch.created_ms >= self.delivery_timeout_ms
        if count > 1 and batch.final_state is None and not expired \
                and not self.force_close and self.fatal_error is None:
            max_bytes = min(self.acc.batch_size, max(bounds[0], bounds[1] // 2))
            idem = self.idem
            stamp = None if idem is None else (
                lambda pieces: idem.take_over_split(batch, pieces))
            try:
                pieces = self.acc.split_and_reenqueue(batch, max_bytes, (count + 1) // 2,
                                                      now, stamp)
            except Exception:   # never expected: fail the batch with the broker's error
                log.exception("Could not split the batch rejected as too large for %s-%d",
                              *batch.tp)
            else:
                self.batch_split_total += 1
                self.acc.batch_done(batch)
                batch.retire_split()
                log.warning("Produce to %s-%d rejected a batch of %d records (%d bytes) as "
                            "too large (MESSAGE_TOO_LARGE): split into %d batches of <= %d "
                            "records, retrying", topic, batch.tp[1], count, size,
                            len(pieces), (count + 1) // 2)
                return
        if count == 1:
            known = ""
            if bounds[0]:
                known = (f"; batches of up to {bounds[0]} bytes were accepted for this "
                         f"topic, so its limit is between {bounds[0]} and {bounds[1] - 1}")
            broker = getattr(err, "message", None)
            err = RecordTooLargeError(
                f"the record to {topic}-{batch.tp[1]} is {size} bytes as a one-record batch, "
                f"larger than the broker accepts for the topic (topic max.message.bytes or "
                f"broker message.max.bytes){known}" + (f"; broker: {broker}" if broker else ""))
        elif expired:
            err = self._expiry_error(batch, now, err)
        self._fail_batch(batch, err, unknown_fate=False)

    def _can_retry(self, batch: ProducerBatch, now: float) -> bool:
        return (not self.force_close and batch.attempts < self.retries
                and now - batch.created_ms < self.delivery_timeout_ms
                and self.fatal_error is None)

    def _fail_or_retry(self, batch: ProducerBatch, error: BaseException, now: float,
                       unknown_fate: bool) -> None:
        if self._can_retry(batch, now):
            self.metrics.record_retry(batch.record_count)
            self.acc.reenqueue(batch, now)
            return
        if now - batch.created_ms >= self.delivery_timeout_ms:
            error = self._expiry_error(batch, now, error)
        self._fail_batch(batch, error, unknown_fate)

    def _expiry_error(self, batch: ProducerBatch, now: float,
                      cause: Optional[BaseException] = None) -> KafkaTimeoutError:
        err = KafkaTimeoutError(
            f"Expiring {batch.record_count or batch.builder.num_records} record(s) for "
            f"{batch.tp[0]}-{batch.tp[1]}: {now - batch.created_ms:.0f} ms has passed since "
            f"batch creation (delivery.timeout.ms={self.delivery_timeout_ms})"
            + (f"; last error: {cause}" if cause else ""))
        return err

    def _complete_batch(self, batch: ProducerBatch, base_offset: int,
                        log_append_time: int) -> None:
        if self._size_bounds and batch.payload is not None:
            bounds = self._size_bounds.get(batch.tp[0])
            if bounds is not None:      # the topic had a MESSAGE_TOO_LARGE: learn its limit
                size = len(batch.payload)
                if size > bounds[0]:
                    bounds[0] = size
                if bounds[1] is not None and size >= bounds[1]:
                    bounds[1] = None    # the limit was raised since
        if self.idem is not None and batch.has_sequence:
            self.idem.on_success(batch, base_offset)
        self.acc.batch_done(batch)
        count = batch.record_count
        if batch.complete(base_offset, log_append_time):
            self.metrics.record_success(count)

    def _fail_batch(self, batch: ProducerBatch, error: BaseException,
                    unknown_fate: bool) -> None:
        if self.txn is not None:
            # A failed batch dooms its transaction (it can only be aborted), and its
            # sequence numbers leave a gap: the epoch must be bumped after the abort.
            if batch.has_sequence:
                self.txn.epoch_bump_required = True
            self.txn.abortable(error)
        elif self.idem is not None and batch.has_sequence:
            self.idem.on_failed(batch, unknown_fate)
        self.acc.batch_done(batch)
        count = batch.record_count or (batch.builder.num_records if batch.builder else 0)
        if batch.complete(-1, -1, error):
            self.metrics.record_error(count)

    def _expire(self, now: float) -> float:
        soonest = self.acc.next_expiry_ms(now)
        if soonest > 0:     # no queue's head is due: the loops below would find nothing
            return soonest
        for batch in self.acc.expired_batches(now):
            self._fail_batch(batch, self._expiry_error(batch, now), unknown_fate=False)
        # Retried idempotent batches past the deadline: fail, sequences unresolved (Java).
        for q in list(self.acc.queues.values()):
            if q.batches and q.batches[0].has_sequence and \
                    now - q.batches[0].created_ms >= self.delivery_timeout_ms:
                with q.lock:
                    expired = []
                    while q.batches and q.batches[0].has_sequence and \
                            now - q.batches[0].created_ms >= self.delivery_timeout_ms:
                        expired.append(q.batches.popleft())
                for batch in expired:
                    if self.idem is not None:
                        self.idem.mark_unresolved(batch)
                    self._fail_batch(batch, self._expiry_error(batch, now), unknown_fate=True)
        return self.acc.next_expiry_ms(now)

    def _abort_everything(self, error: BaseException) -> None:
        for batch in self.acc.abort_all():
            self._fail_batch(batch, error, unknown_fate=False)
        for batches in list(self.in_flight_batches.values()):
            for batch in batches:
                self._fail_batch(batch, error, unknown_fate=True)
        self.in_flight_batches.clear()
        for batch in self.acc.incomplete_snapshot():
            self._fail_batch(batch, error, unknown_fate=False)


def _always(batch: ProducerBatch) -> bool:
    return True
