"""The transaction manager's vocabulary (Java's ``TransactionManager.State`` and
friends): the states and their valid transitions, the error codes that decide an
answer's fate, the pending request and the result a user call waits on, and Java's
request priorities. No I/O, no locks: :mod:`kprod._internals.transactions` drives them.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from kprod._internals.protocol.structs import Struct
from kprod.errors import (
    ClusterAuthorizationError, ConcurrentTransactionsError, CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError, InvalidPidMappingError, InvalidProducerEpochError,
    KafkaTimeoutError, NotCoordinatorError, ProducerFencedError,
    TransactionalIdAuthorizationError, TransactionCoordinatorFencedError,
    UnsupportedVersionError,
)

UNINITIALIZED = "UNINITIALIZED"
INITIALIZING = "INITIALIZING"
READY = "READY"
IN_TRANSACTION = "IN_TRANSACTION"
COMMITTING = "COMMITTING_TRANSACTION"
ABORTING = "ABORTING_TRANSACTION"
ABORTABLE_ERROR = "ABORTABLE_ERROR"
FATAL_ERROR = "FATAL_ERROR"

_VALID_FROM = {  # Java TransactionManager.State.isTransitionValid
    UNINITIALIZED: {READY, ABORTABLE_ERROR},
    INITIALIZING: {UNINITIALIZED, ABORTABLE_ERROR},
    READY: {INITIALIZING, COMMITTING, ABORTING},
    IN_TRANSACTION: {READY},
    COMMITTING: {IN_TRANSACTION},
    ABORTING: {IN_TRANSACTION, ABORTABLE_ERROR},
    ABORTABLE_ERROR: {IN_TRANSACTION, COMMITTING, ABORTABLE_ERROR, INITIALIZING},
}

# Fatal for the producer (Java: ProducerFenced, InvalidProducerEpoch for txn,
# TransactionalIdAuthorization, ClusterAuthorization, UnsupportedVersion, ...).
FATAL_CODES = {cls.code for cls in (
    ClusterAuthorizationError, UnsupportedVersionError, InvalidProducerEpochError,
    InvalidPidMappingError, TransactionalIdAuthorizationError, ProducerFencedError,
    TransactionCoordinatorFencedError)}
COORDINATOR_CODES = {CoordinatorNotAvailableError.code, NotCoordinatorError.code}
RETRY_CODES = {CoordinatorLoadInProgressError.code, ConcurrentTransactionsError.code}
# FENCED_CODES: Java maps INVALID_PRODUCER_EPOCH from the coordinator to
# ProducerFencedException too.
FENCED_CODES = {InvalidProducerEpochError.code, ProducerFencedError.code}

TRANSACTION_KEY, GROUP_KEY = 1, 0  # FindCoordinator key types


class TxnResult:
    """What a user call waits for: done, or failed with an error."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._event = threading.Event()
        self.error: Optional[BaseException] = None

    def done(self, error: Optional[BaseException] = None) -> None:
        if not self._event.is_set():
            self.error = error
            self._event.set()

    @property
    def is_done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: Optional[float]) -> None:
        if not self._event.wait(timeout):
            raise KafkaTimeoutError(f"Timeout expired after {timeout} s while awaiting {self.what}")
        if self.error is not None:
            raise self.error


class TxnRequest:
    """One pending request; ``target`` is "txn" (the transaction coordinator) or
    ("group", group_id)."""

    __slots__ = ("priority", "api", "target", "build", "handle", "result", "not_before")

    def __init__(self, priority: int, api: str, target: Any, build: Callable[[], Struct],
                 handle: Callable[[Any], Optional[str]], result: Optional[TxnResult]) -> None:
        self.priority = priority
        self.api = api
        self.target = target
        self.build = build
        self.handle = handle
        self.result = result
        self.not_before = 0.0


# Java's request priority: FIND_COORDINATOR < INIT_PRODUCER_ID < ADD_PARTITIONS_OR_OFFSETS
# < END_TXN.
P_FIND, P_INIT, P_ADD, P_END = 0, 1, 2, 3
