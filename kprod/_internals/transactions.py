"""Transactions (KIP-98, KIP-447): the transactional half of Java's TransactionManager.

The user's threads change the state (init, begin, commit, abort, send offsets)
and wait on a :class:`TxnResult`; the I/O thread turns pending work into
requests to the transaction coordinator (FindCoordinator, InitProducerId,
AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) or the group coordinator
(TxnOffsetCommit), in Java's priority order, and applies the answers.

Rules kept from Java: a partition's batches are drained only after
AddPartitionsToTxn added it (Java isSendToPartitionAllowed); EndTxn is sent only once
no batch of the transaction is incomplete (commit flushes first); fencing
errors are fatal (the producer can only be closed), other failures inside a
transaction are abortable (``abort_transaction()`` makes the producer usable
again).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from kprod._internals.protocol import types
from kprod._internals.protocol.structs import Struct
from kprod._internals.transaction_states import (  # noqa: F401 (the states: public here)
    _VALID_FROM, ABORTABLE_ERROR, ABORTING, COMMITTING, COORDINATOR_CODES, FATAL_CODES,
    FATAL_ERROR, FENCED_CODES, GROUP_KEY, IN_TRANSACTION, INITIALIZING, P_ADD, P_END,
    P_FIND, P_INIT, READY, RETRY_CODES, TRANSACTION_KEY, UNINITIALIZED, TxnRequest,
    TxnResult,
)
from kprod.errors import (
    IllegalStateError, InvalidProducerEpochError, KafkaError, OperationNotAttemptedError,
    ProducerFencedError, TransactionAbortRequiredError, error_for_code,
)
from kprod.errors import TransactionAbortedError  # noqa: F401 (importable here, as before)

TopicPartition = Tuple[str, int]


class TransactionManager:
    def __init__(self, transactional_id: str, transaction_timeout_ms: int, idempotence,
                 retry_backoff_ms: int, clock: Callable[[], float]) -> None:
        self.transactional_id = transactional_id
        self.transaction_timeout_ms = transaction_timeout_ms
        self.idem = idempotence
        self.retry_backoff_ms = retry_backoff_ms
        self.clock = clock
        self.state = UNINITIALIZED
        self.last_error: Optional[BaseException] = None
        self.lock = threading.Lock()
        self.pending: List[TxnRequest] = []
        self.in_flight: Optional[TxnRequest] = None
        self.coordinators: Dict[Any, Optional[Tuple[int, str, int]]] = {}  # target -> broker
        self.partitions_in_txn: Set[TopicPartition] = set()
        self.new_partitions: Set[TopicPartition] = set()
        self.partitions_being_added: Set[TopicPartition] = set()
        self.end_result: Optional[TxnResult] = None
        self.has_sent_records = False
        self._current_init_result: Optional[TxnResult] = None
        self.coordinator_has_txn = False   # something was added: EndTxn is needed
        self.local_end_pending = False     # an end with nothing to tell the coordinator
        self.epoch_bump_required = False   # a batch failed: reset sequences after abort
        # Transactions V2 (KIP-890 part 2): the brokers add a partition to the
        # transaction with its first Produce v12+, no AddPartitionsToTxn round trip.
        self.tv2_supported = False          # kept current by the I/O thread
        self.implicit_add = False           # decided per transaction at begin

    # -- user threads ------------------------------------------------------------------
    def _transition(self, target: str) -> None:
        allowed = _VALID_FROM.get(target)
        if target in (ABORTABLE_ERROR, FATAL_ERROR):
            pass
        elif allowed is None or self.state not in allowed:
            if self.state == FATAL_ERROR:
                raise IllegalStateError(
                    f"The producer hit a fatal error and can only be closed: {self.last_error}")
            if self.state == ABORTABLE_ERROR and target != ABORTING:
                raise TransactionAbortRequiredError(
                    f"Cannot move to {target}: the transaction hit an error and must be "
                    f"aborted (abort_transaction()); first error: "
                    f"{type(self.last_error).__name__}: {self.last_error}"
                ) from self.last_error
            if self.state in (UNINITIALIZED, INITIALIZING):
                raise IllegalStateError(
                    f"Cannot move to {target} with transactional.id="
                    f"{self.transactional_id!r}: call init_transactions() first"
                    + (" (it is still running)" if self.state == INITIALIZING else ""))
            if self.state == READY and target in (COMMITTING, ABORTING):
                raise IllegalStateError(f"Cannot move to {target}: no transaction is open "
                                        "(call begin_transaction() first)")
            raise IllegalStateError(f"Invalid transaction state transition {self.state} -> "
                                    f"{target}")
        self.state = target

    def init_transactions(self) -> TxnResult:
        with self.lock:
            pending = self._current_init_result
            if self.state == INITIALIZING and pending is not None and not pending.is_done:
                # A retry after a timed-out wait resumes the same attempt (Java keeps the
                # pending TransactionalRequestResult so initTransactions() may be re-called).
                return pending
            self._transition(INITIALIZING)
            result = TxnResult("init_transactions (InitProducerId)")
            self.idem.set_producer_id(-1, -1)
            self._enqueue_init(result)
            return result

    def begin_transaction(self) -> None:
        with self.lock:
            if self.state == UNINITIALIZED or self.state == INITIALIZING:
                raise IllegalStateError("Call init_transactions() before begin_transaction()")
            if self.state == IN_TRANSACTION:
                raise IllegalStateError("A transaction is already in progress")
            self._transition(IN_TRANSACTION)
            self.has_sent_records = False
            self.implicit_add = self.tv2_supported

    def check_send(self) -> None:
        """send() is only valid inside a transaction; raises a clear error otherwise."""
        state = self.state
        if state == IN_TRANSACTION:
            return
        if state == ABORTABLE_ERROR:
            raise IllegalStateError(f"Cannot send: the transaction must be aborted first "
                                    f"(cause: {self.last_error})")
        if state == FATAL_ERROR:
            raise IllegalStateError(f"Cannot send: the producer hit a fatal error and can "
                                    f"only be closed ({self.last_error})")
        raise IllegalStateError(f"Cannot send with transactional.id={self.transactional_id!r} "
                                f"outside a transaction (state {state}): call "
                                "init_transactions() once, then begin_transaction()")

    def maybe_add_partition(self, tp: TopicPartition) -> bool:
        """After an append: True if the partition is new to the transaction."""
        if tp in self.partitions_in_txn or tp in self.new_partitions or \
                tp in self.partitions_being_added:
            return False
        with self.lock:
            if tp in self.partitions_in_txn or tp in self.partitions_being_added:
                return False
            self.has_sent_records = True
            if self.implicit_add:
                self.partitions_in_txn.add(tp)   # added by the broker on first Produce
                return False
            self.new_partitions.add(tp)
            return True

    def send_offsets(self, offsets: Mapping[TopicPartition, Any], group: Mapping[str, Any]
                     ) -> TxnResult:
        with self.lock:
            if self.state != IN_TRANSACTION:
                self.check_send()
            result = TxnResult(f"send_offsets_to_transaction (group {group['group_id']!r})")
            self._enqueue_add_offsets(offsets, group, result)
            return result

    def begin_end(self, commit: bool) -> TxnResult:
        with self.lock:
            if not commit and self.state == ABORTING and self.end_result is not None:
                return self.end_result       # retry of a timed-out abort
            if commit and self.state == COMMITTING and self.end_result is not None:
                return self.end_result
            self._transition(COMMITTING if commit else ABORTING)
            what = "commit_transaction (EndTxn)" if commit else "abort_transaction (EndTxn)"
            result = self.end_result = TxnResult(what)
            if not commit:
                self.new_partitions.clear()   # their records fail unsent (abort)
            implicit_records = self.implicit_add and bool(self.partitions_in_txn)
            if not self.coordinator_has_txn and not self.partitions_being_added and \
                    not self.new_partitions and not self._has_pending_offsets() and \
                    not implicit_records:
                # Nothing reached the coordinator: no EndTxn (Java does the same). The
                # I/O thread still completes it, after failing unsent records on abort.
                self.local_end_pending = True
                return result
            self.pending.append(TxnRequest(P_END, "EndTxn", "txn", lambda: types.EndTxnRequest(
                transactional_id=self.transactional_id, producer_id=self.idem.producer_id,
                producer_epoch=self.idem.epoch, committed=commit),
                self._on_end_txn, result))
            return result

    def _has_pending_offsets(self) -> bool:
        return any(r.api in ("AddOffsetsToTxn", "TxnOffsetCommit") for r in self.pending) or (
            self.in_flight is not None and self.in_flight.api in ("AddOffsetsToTxn",
                                                                   "TxnOffsetCommit"))

    # -- requests ------------------------------------------------------------------------
    def _enqueue_init(self, result: TxnResult) -> None:
        self._current_init_result = result
        self._enqueue_find("txn")
        self.pending.append(TxnRequest(P_INIT, "InitProducerId", "txn",
                                       lambda: types.InitProducerIdRequest(
                                           transactional_id=self.transactional_id,
                                           transaction_timeout_ms=self.transaction_timeout_ms,
                                           producer_id=-1, producer_epoch=-1),
                                       self._on_init, result))

    def _enqueue_find(self, target: Any) -> None:
        if any(r.api == "FindCoordinator" and r.target == target for r in self.pending):
            return
        key = self.transactional_id if target == "txn" else target[1]
        key_type = TRANSACTION_KEY if target == "txn" else GROUP_KEY
        self.coordinators[target] = None

        def handle(response: types.FindCoordinatorResponse) -> Optional[str]:
            # v4+ (KIP-699) answers per key in Coordinators; older versions at the top
            # level, with the same field names.
            c: Any = response.coordinators[0] if response.coordinators else response
            code = c.error_code
            if code != 0:
                return self._on_error(code, c.error_message, "FindCoordinator")
            self.coordinators[target] = (c.node_id, c.host, c.port)
            return None

        self.pending.append(TxnRequest(
            P_FIND, "FindCoordinator", "any",
            lambda: types.FindCoordinatorRequest(key=key, key_type=key_type,
                                                 coordinator_keys=[key]), handle, None))

    def _enqueue_add_offsets(self, offsets, group, result: TxnResult) -> None:
        group_id = group["group_id"]

        def handle_add(response: types.AddOffsetsToTxnResponse) -> Optional[str]:
            code = response.error_code
            if code != 0:
                return self._on_error(code, None, "AddOffsetsToTxn", result)
            self.coordinator_has_txn = True
            # Next: commit the offsets through the group coordinator.
            self._enqueue_find(("group", group_id))
            self.pending.append(TxnRequest(P_ADD, "TxnOffsetCommit", ("group", group_id),
                                           build_commit, handle_commit, result))
            return None

        def build_commit() -> types.TxnOffsetCommitRequest:
            topics: Dict[str, list] = {}
            for (topic, partition), offset in offsets.items():
                committed, metadata, leader_epoch = _offset_fields(offset)
                topics.setdefault(topic, []).append(types.TxnOffsetCommitRequestPartition(
                    partition_index=partition, committed_offset=committed,
                    committed_leader_epoch=leader_epoch, committed_metadata=metadata))
            return types.TxnOffsetCommitRequest(
                transactional_id=self.transactional_id, group_id=group_id,
                producer_id=self.idem.producer_id, producer_epoch=self.idem.epoch,
                generation_id=group.get("generation_id", -1),
                member_id=group.get("member_id", ""),
                group_instance_id=group.get("group_instance_id"),
                topics=[types.TxnOffsetCommitRequestTopic(name=t, partitions=p)
                        for t, p in topics.items()])

        def handle_commit(response: types.TxnOffsetCommitResponse) -> Optional[str]:
            for topic in response.topics:
                for p in topic.partitions:
                    code = p.error_code
                    if code != 0:
                        if code in COORDINATOR_CODES:
                            self._enqueue_find(("group", group_id))
                            return "retry"
                        return self._on_error(code, f"offset commit of {topic.name}-"
                                              f"{p.partition_index}", "TxnOffsetCommit",
                                              result)
            result.done()
            return None

        self.pending.append(TxnRequest(
            P_ADD, "AddOffsetsToTxn", "txn",
            lambda: types.AddOffsetsToTxnRequest(
                transactional_id=self.transactional_id, producer_id=self.idem.producer_id,
                producer_epoch=self.idem.epoch, group_id=group_id), handle_add, None))

    def next_request(self, now: float, has_incomplete_batches: bool) -> Optional[TxnRequest]:
        """The next request to send (I/O thread), or None."""
        if self.in_flight is not None:
            return None
        with self.lock:
            if self.local_end_pending and not has_incomplete_batches:
                self.local_end_pending = False
                self._complete_end(None)
                return None
            if self.new_partitions and self.state in (IN_TRANSACTION, COMMITTING, ABORTING) \
                    and not any(r.api == "AddPartitionsToTxn" for r in self.pending):
                self._enqueue_add_partitions()
            ready = [r for r in self.pending if r.not_before <= now]
            if not ready:
                return None
            request = min(ready, key=lambda r: r.priority)
            if request.api == "EndTxn" and (has_incomplete_batches or self.new_partitions or
                                            self.partitions_being_added or any(
                                                r.priority < P_END for r in self.pending)):
                others = [r for r in ready if r.api != "EndTxn"]
                if not others:
                    return None   # wait for the transaction's batches to finish
                request = min(others, key=lambda r: r.priority)
            if request.api == "EndTxn" and not self.coordinator_has_txn:
                # V2: none of the transaction's records reached a broker (all failed
                # unsent on abort), so the coordinator has nothing to end.
                self.pending.remove(request)
                self._complete_end(None)
                return None
            if request.target != "any" and self.coordinators.get(request.target) is None:
                self._enqueue_find(request.target)
                finds = [r for r in self.pending if r.api == "FindCoordinator"]
                request = finds[0]
            self.pending.remove(request)
            self.in_flight = request
            return request

    def coordinator_unreachable(self, request: TxnRequest, now: float) -> None:
        """The coordinator's connection failed before ``request`` could be sent (its
        broker died or is unreachable): put the request back and look the coordinator
        up again, after a backoff (Java Sender.maybeSendAndPollTransactionalRequest:
        coordinator not ready -> lookupCoordinator)."""
        with self.lock:
            self.in_flight = None
            self.pending.append(request)
            had_find = any(r.api == "FindCoordinator" for r in self.pending)
            self._enqueue_find(request.target)
            if not had_find:
                for r in self.pending:
                    if r.api == "FindCoordinator":
                        r.not_before = now + self.retry_backoff_ms

    def unsend(self, request: TxnRequest) -> None:
        """Put back a request whose connection is not ready yet."""
        with self.lock:
            self.in_flight = None
            self.pending.append(request)

    def next_wait_ms(self, now: float) -> float:
        if self.local_end_pending:
            return 0.0
        if self.in_flight is not None or not self.pending:
            return float("inf") if not self.new_partitions else 0.0
        return max(min(r.not_before for r in self.pending) - now, 0.0)

    def _enqueue_add_partitions(self) -> None:
        partitions = sorted(self.new_partitions)
        self.partitions_being_added.update(partitions)
        self.new_partitions.clear()

        def build() -> types.AddPartitionsToTxnRequest:
            topics: Dict[str, List[int]] = {}
            for topic, partition in partitions:
                topics.setdefault(topic, []).append(partition)
            return types.AddPartitionsToTxnRequest(
                v3_and_below_transactional_id=self.transactional_id,
                v3_and_below_producer_id=self.idem.producer_id,
                v3_and_below_producer_epoch=self.idem.epoch,
                v3_and_below_topics=[types.AddPartitionsToTxnTopic(name=t, partitions=p)
                                     for t, p in topics.items()])

        def handle(response: types.AddPartitionsToTxnResponse) -> Optional[str]:
            retry = False
            for topic in response.results_by_topic_v3_and_below:
                for p in topic.results_by_partition:
                    code = p.partition_error_code
                    tp = (topic.name, p.partition_index)
                    if code == 0:
                        continue
                    if code in COORDINATOR_CODES:
                        self._enqueue_find("txn")
                        retry = True
                    elif code in RETRY_CODES or code == OperationNotAttemptedError.code:
                        retry = True
                    else:
                        self.partitions_being_added.difference_update(partitions)
                        return self._on_error(code, f"partition {tp[0]}-{tp[1]}",
                                              "AddPartitionsToTxn")
            if retry:
                return "retry"
            self.partitions_in_txn.update(partitions)
            self.partitions_being_added.difference_update(partitions)
            self.coordinator_has_txn = True
            return None

        self.pending.append(TxnRequest(P_ADD, "AddPartitionsToTxn", "txn", build, handle, None))

    # -- responses (I/O thread) ----------------------------------------------------------
    def on_response(self, request: TxnRequest, response: Optional[Struct],
                    error: Optional[BaseException]) -> None:
        """Apply an answer; retriable outcomes put the request back with a backoff."""
        self.in_flight = None
        outcome: Optional[str]
        if error is not None:
            outcome = "retry"
            if request.target != "any":
                self._enqueue_find(request.target)
        else:
            try:
                outcome = request.handle(response)
            except KafkaError as exc:
                outcome = None
                self._fail(exc, request.result)
        if outcome == "retry":
            with self.lock:
                # CONCURRENT_TRANSACTIONS clears fast on the broker: retry soon (Java: 20 ms).
                request.not_before = self.clock() + min(self.retry_backoff_ms, 20)
                self.pending.append(request)

    def _on_error(self, code: int, message: Optional[str], api: str,
                  result: Optional[TxnResult] = None) -> Optional[str]:
        if code in COORDINATOR_CODES:
            self._enqueue_find("txn")
            return "retry"
        if code in RETRY_CODES:
            return "retry"
        text = f"{api} for transactional.id {self.transactional_id!r}" + (
            f": {message}" if message else "")
        if code in FENCED_CODES:
            # Java maps INVALID_PRODUCER_EPOCH from the coordinator to
            # ProducerFencedException: a newer instance with our id took over.
            err: KafkaError = ProducerFencedError(
                f"{text} (fenced by a newer producer with the same transactional.id"
                f"{', INVALID_PRODUCER_EPOCH' if code == InvalidProducerEpochError.code else ''})")
        else:
            err = error_for_code(code, text)
        if code in FATAL_CODES:
            self.fatal(err)
        else:
            self.abortable(err)
        if result is not None:
            result.done(err)
        return None

    def _fail(self, err: BaseException, result: Optional[TxnResult]) -> None:
        self.abortable(err)
        if result is not None:
            result.done(err)

    def _on_init(self, response: types.InitProducerIdResponse) -> Optional[str]:
        code = response.error_code
        if code != 0:
            return self._on_error(code, None, "InitProducerId", self._init_result())
        with self.lock:
            self.idem.set_producer_id(response.producer_id, response.producer_epoch)
            self.idem.partitions.clear()
            self.state = READY
        result = self._init_result()
        if result is not None:
            result.done()
        return None

    def _init_result(self) -> Optional[TxnResult]:
        return self._current_init_result

    def _on_end_txn(self, response: types.EndTxnResponse) -> Optional[str]:
        code = response.error_code
        if code != 0:
            return self._on_error(code, None, "EndTxn", self.end_result)
        if response.producer_epoch >= 0 and response.producer_id >= 0:
            # Transactions V2 (KIP-890): the coordinator bumped the epoch.
            self.idem.set_producer_id(response.producer_id, response.producer_epoch)
            self.idem.partitions.clear()
            self.epoch_bump_required = False
        elif self.epoch_bump_required:
            # V1 coordinator after a failed batch: our sequences for the failed
            # partitions are unusable. Bump the epoch with InitProducerId (KIP-360,
            # Java bumpIdempotentEpochAndResetIdIfNeeded), then finish the abort.
            self._enqueue_epoch_bump()
            return None
        self._complete_end(None)
        return None

    def _enqueue_epoch_bump(self) -> None:
        def handle(response: types.InitProducerIdResponse) -> Optional[str]:
            code = response.error_code
            if code != 0:
                return self._on_error(code, None, "InitProducerId (epoch bump)",
                                      self.end_result)
            self.idem.set_producer_id(response.producer_id, response.producer_epoch)
            self.idem.partitions.clear()
            self.epoch_bump_required = False
            self._complete_end(None)
            return None

        self.pending.append(TxnRequest(P_INIT, "InitProducerId", "txn",
                                       lambda: types.InitProducerIdRequest(
                                           transactional_id=self.transactional_id,
                                           transaction_timeout_ms=self.transaction_timeout_ms,
                                           producer_id=self.idem.producer_id,
                                           producer_epoch=self.idem.epoch),
                                       handle, None))

    def _complete_end(self, error: Optional[BaseException]) -> None:
        self.coordinator_has_txn = False
        self.local_end_pending = False
        self.partitions_in_txn.clear()
        self.partitions_being_added.clear()
        self.new_partitions.clear()
        if self.state != FATAL_ERROR:
            self.state = READY
        result, self.end_result = self.end_result, None
        if result is not None:
            result.done(error)

    # -- drain gate and failures ---------------------------------------------------------
    def may_drain(self, tp: TopicPartition) -> bool:
        return tp in self.partitions_in_txn

    def on_produce_sent(self) -> None:
        """A Produce request of this transaction went out (V2: the coordinator now
        has the transaction, so it must be ended with EndTxn)."""
        self.coordinator_has_txn = True

    def abortable(self, error: BaseException) -> None:
        with self.lock:
            if self.state == INITIALIZING:
                self.state = UNINITIALIZED      # init failed: it may be called again
                self.last_error = error
                return
            if self.state in (FATAL_ERROR, ABORTING, READY, UNINITIALIZED, ABORTABLE_ERROR):
                return      # ABORTABLE_ERROR: the first error is the one to report
            self.last_error = error
            committing = self.state == COMMITTING
            self.state = ABORTABLE_ERROR
            if committing:
                # The commit cannot succeed any more: drop its EndTxn, fail the wait.
                self.pending = [r for r in self.pending if r.api != "EndTxn"]
                result, self.end_result = self.end_result, None
                if result is not None:
                    result.done(error)

    def fatal(self, error: BaseException) -> None:
        self.last_error = error
        self.state = FATAL_ERROR
        for request in list(self.pending) + ([self.in_flight] if self.in_flight else []):
            if request.result is not None:
                request.result.done(error)
        if self.end_result is not None:
            self.end_result.done(error)
        if self._current_init_result is not None:
            self._current_init_result.done(error)


def _offset_fields(offset: Any) -> Tuple[int, Optional[str], int]:
    """Accept an int, (offset, metadata) or an object with .offset/.metadata/.leader_epoch
    (confluent-kafka TopicPartition)."""
    if isinstance(offset, int):
        return offset, None, -1
    if isinstance(offset, tuple):
        return int(offset[0]), (offset[1] if len(offset) > 1 else None), -1
    epoch = getattr(offset, "leader_epoch", None)
    return (int(offset.offset), getattr(offset, "metadata", None),
            epoch if isinstance(epoch, int) and epoch is not None else -1)
