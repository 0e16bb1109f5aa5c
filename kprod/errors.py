"""Exception hierarchy and the broker error-code table.

Names mirror the Java client's exceptions (``RecordTooLargeException`` ->
``RecordTooLargeError``). Broker error codes come from Kafka's
``org.apache.kafka.common.protocol.Errors``; ``retriable`` follows Java's
``RetriableException`` subclasses.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Type


class KafkaError(Exception):
    """Base of every error kprod raises."""

    retriable: bool = False


class ConfigError(KafkaError, ValueError):
    """A setting is unknown, has the wrong type or range, or conflicts with another."""


class SerializationError(KafkaError):
    """A key, value or header could not be turned into bytes."""


class CorruptRecordError(KafkaError):
    """Record bytes are truncated, malformed or fail their CRC."""


class ProtocolError(KafkaError):
    """Bytes from the network do not form a valid Kafka response."""


class KafkaConnectionError(KafkaError):
    """A broker connection could not be set up or was lost."""

    retriable = True


class DnsLookupError(KafkaConnectionError):
    """A broker host name could not be resolved."""


class AuthenticationError(KafkaError):
    """TLS or SASL authentication failed."""


class KafkaTimeoutError(KafkaError, TimeoutError):
    """An operation did not finish within its configured time bound."""

    retriable = True


class BufferExhaustedError(KafkaTimeoutError):
    """``buffer.memory`` could not serve an allocation within ``max.block.ms``."""


class ProducerClosedError(KafkaError):
    """The producer is closed; no more records are accepted."""


class IllegalStateError(KafkaError):
    """An operation is not valid in the producer's current state."""


class TransactionAbortRequiredError(IllegalStateError):
    """The open transaction hit an error (a record failed, or send() raised for one of
    its records): it cannot be committed, only aborted. ``__cause__`` is the first error."""


class BrokerError(KafkaError):
    """An error code returned by a broker."""

    code: int = -1
    name: str = "UNKNOWN_SERVER_ERROR"

    def __init__(self, message: Optional[str] = None) -> None:
        text = self.name if not message else f"{self.name}: {message}"
        super().__init__(text)
        self.message = message


# code -> (NAME, retriable). Kafka's Errors enum, as of 4.1.
_CODES: Dict[int, Tuple[str, bool]] = {
    -1: ("UNKNOWN_SERVER_ERROR", False), 1: ("OFFSET_OUT_OF_RANGE", False),
    2: ("CORRUPT_MESSAGE", True), 3: ("UNKNOWN_TOPIC_OR_PARTITION", True),
    4: ("INVALID_FETCH_SIZE", False), 5: ("LEADER_NOT_AVAILABLE", True),
    6: ("NOT_LEADER_OR_FOLLOWER", True), 7: ("REQUEST_TIMED_OUT", True),
    8: ("BROKER_NOT_AVAILABLE", False), 9: ("REPLICA_NOT_AVAILABLE", True),
    10: ("MESSAGE_TOO_LARGE", False), 11: ("STALE_CONTROLLER_EPOCH", False),
    12: ("OFFSET_METADATA_TOO_LARGE", False), 13: ("NETWORK_EXCEPTION", True),
    14: ("COORDINATOR_LOAD_IN_PROGRESS", True), 15: ("COORDINATOR_NOT_AVAILABLE", True),
    16: ("NOT_COORDINATOR", True), 17: ("INVALID_TOPIC_EXCEPTION", False),
    18: ("RECORD_LIST_TOO_LARGE", False), 19: ("NOT_ENOUGH_REPLICAS", True),
    20: ("NOT_ENOUGH_REPLICAS_AFTER_APPEND", True), 21: ("INVALID_REQUIRED_ACKS", False),
    22: ("ILLEGAL_GENERATION", False), 23: ("INCONSISTENT_GROUP_PROTOCOL", False),
    24: ("INVALID_GROUP_ID", False), 25: ("UNKNOWN_MEMBER_ID", False),
    26: ("INVALID_SESSION_TIMEOUT", False), 27: ("REBALANCE_IN_PROGRESS", False),
    28: ("INVALID_COMMIT_OFFSET_SIZE", False), 29: ("TOPIC_AUTHORIZATION_FAILED", False),
    30: ("GROUP_AUTHORIZATION_FAILED", False), 31: ("CLUSTER_AUTHORIZATION_FAILED", False),
    32: ("INVALID_TIMESTAMP", False), 33: ("UNSUPPORTED_SASL_MECHANISM", False),
    34: ("ILLEGAL_SASL_STATE", False), 35: ("UNSUPPORTED_VERSION", False),
    36: ("TOPIC_ALREADY_EXISTS", False), 37: ("INVALID_PARTITIONS", False),
    38: ("INVALID_REPLICATION_FACTOR", False), 39: ("INVALID_REPLICA_ASSIGNMENT", False),
    40: ("INVALID_CONFIG", False), 41: ("NOT_CONTROLLER", True),
    42: ("INVALID_REQUEST", False), 43: ("UNSUPPORTED_FOR_MESSAGE_FORMAT", False),
    44: ("POLICY_VIOLATION", False), 45: ("OUT_OF_ORDER_SEQUENCE_NUMBER", False),
    46: ("DUPLICATE_SEQUENCE_NUMBER", False), 47: ("INVALID_PRODUCER_EPOCH", False),
    48: ("INVALID_TXN_STATE", False), 49: ("INVALID_PRODUCER_ID_MAPPING", False),
    50: ("INVALID_TRANSACTION_TIMEOUT", False), 51: ("CONCURRENT_TRANSACTIONS", True),
    52: ("TRANSACTION_COORDINATOR_FENCED", False),
    53: ("TRANSACTIONAL_ID_AUTHORIZATION_FAILED", False), 54: ("SECURITY_DISABLED", False),
    55: ("OPERATION_NOT_ATTEMPTED", False), 56: ("KAFKA_STORAGE_ERROR", True),
    57: ("LOG_DIR_NOT_FOUND", False), 58: ("SASL_AUTHENTICATION_FAILED", False),
    59: ("UNKNOWN_PRODUCER_ID", False), 60: ("REASSIGNMENT_IN_PROGRESS", False),
    67: ("INVALID_PRINCIPAL_TYPE", False), 72: ("LISTENER_NOT_FOUND", True),
    74: ("FENCED_LEADER_EPOCH", True), 75: ("UNKNOWN_LEADER_EPOCH", True),
    76: ("UNSUPPORTED_COMPRESSION_TYPE", False), 77: ("STALE_BROKER_EPOCH", False),
    78: ("OFFSET_NOT_AVAILABLE", True), 80: ("PREFERRED_LEADER_NOT_AVAILABLE", True),
    82: ("FENCED_INSTANCE_ID", False), 83: ("ELIGIBLE_LEADERS_NOT_AVAILABLE", True),
    87: ("INVALID_RECORD", False), 88: ("UNSTABLE_OFFSET_COMMIT", True),
    89: ("THROTTLING_QUOTA_EXCEEDED", True), 90: ("PRODUCER_FENCED", False),
    93: ("UNACCEPTABLE_CREDENTIAL", False), 100: ("UNKNOWN_TOPIC_ID", True),
    103: ("INCONSISTENT_TOPIC_ID", True), 105: ("TRANSACTIONAL_ID_NOT_FOUND", False),
    120: ("TRANSACTION_ABORTABLE", False),
}


class RecordTooLargeError(BrokerError):
    """A record or batch exceeds ``max.request.size``, ``buffer.memory`` or the broker's limit."""

    code, name = 10, "MESSAGE_TOO_LARGE"


class InvalidMetadataError(BrokerError):
    """The producer's metadata is out of date for this partition: refresh it, then retry
    (Java's ``InvalidMetadataException``)."""

    retriable = True


class UnknownTopicOrPartitionError(InvalidMetadataError):
    code, name = 3, "UNKNOWN_TOPIC_OR_PARTITION"


class LeaderNotAvailableError(InvalidMetadataError):
    code, name = 5, "LEADER_NOT_AVAILABLE"


class NotLeaderOrFollowerError(InvalidMetadataError):
    code, name = 6, "NOT_LEADER_OR_FOLLOWER"


class ReplicaNotAvailableError(InvalidMetadataError):
    code, name = 9, "REPLICA_NOT_AVAILABLE"


class FencedLeaderEpochError(InvalidMetadataError):
    code, name = 74, "FENCED_LEADER_EPOCH"


class UnknownLeaderEpochError(InvalidMetadataError):
    code, name = 75, "UNKNOWN_LEADER_EPOCH"


class UnknownTopicIdError(InvalidMetadataError):
    code, name = 100, "UNKNOWN_TOPIC_ID"


class InconsistentTopicIdError(InvalidMetadataError):
    code, name = 103, "INCONSISTENT_TOPIC_ID"


class RequestTimedOutError(BrokerError):
    code, name, retriable = 7, "REQUEST_TIMED_OUT", True


class InvalidTopicError(BrokerError):
    code, name = 17, "INVALID_TOPIC_EXCEPTION"


class NotEnoughReplicasError(BrokerError):
    code, name, retriable = 19, "NOT_ENOUGH_REPLICAS", True


class NotEnoughReplicasAfterAppendError(BrokerError):
    code, name, retriable = 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", True


class TopicAuthorizationError(BrokerError):
    code, name = 29, "TOPIC_AUTHORIZATION_FAILED"


class ClusterAuthorizationError(BrokerError):
    code, name = 31, "CLUSTER_AUTHORIZATION_FAILED"


class UnsupportedVersionError(BrokerError):
    """The broker does not support a request version kprod needs."""

    code, name = 35, "UNSUPPORTED_VERSION"


class OutOfOrderSequenceError(BrokerError):
    code, name = 45, "OUT_OF_ORDER_SEQUENCE_NUMBER"


class DuplicateSequenceError(BrokerError):
    code, name = 46, "DUPLICATE_SEQUENCE_NUMBER"


class InvalidProducerEpochError(BrokerError):
    code, name = 47, "INVALID_PRODUCER_EPOCH"


class InvalidTxnStateError(BrokerError):
    code, name = 48, "INVALID_TXN_STATE"


class TransactionalIdAuthorizationError(BrokerError):
    code, name = 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"


class SaslAuthenticationError(BrokerError, AuthenticationError):
    code, name = 58, "SASL_AUTHENTICATION_FAILED"


class UnknownProducerIdError(BrokerError):
    code, name = 59, "UNKNOWN_PRODUCER_ID"


class ProducerFencedError(BrokerError):
    """Another producer with the same ``transactional.id`` has a newer epoch (fatal)."""

    code, name = 90, "PRODUCER_FENCED"


class TransactionAbortableError(BrokerError):
    code, name = 120, "TRANSACTION_ABORTABLE"


_SPECIFIC: Dict[int, Type[BrokerError]] = {
    cls.code: cls
    for cls in (
        RecordTooLargeError, UnknownTopicOrPartitionError, NotLeaderOrFollowerError,
        LeaderNotAvailableError, ReplicaNotAvailableError, FencedLeaderEpochError,
        UnknownLeaderEpochError, UnknownTopicIdError, InconsistentTopicIdError,
        RequestTimedOutError, InvalidTopicError, NotEnoughReplicasError,
        NotEnoughReplicasAfterAppendError, TopicAuthorizationError,
        ClusterAuthorizationError, UnsupportedVersionError, OutOfOrderSequenceError,
        DuplicateSequenceError, InvalidProducerEpochError, InvalidTxnStateError,
        TransactionalIdAuthorizationError, SaslAuthenticationError,
        UnknownProducerIdError, ProducerFencedError, TransactionAbortableError,
    )
}
_GENERIC: Dict[int, Type[BrokerError]] = {}


def error_class(code: int) -> Type[BrokerError]:
    """The exception class for a broker error code (``code != 0``)."""
    cls = _SPECIFIC.get(code) or _GENERIC.get(code)
    if cls is None:
        name, retriable = _CODES.get(code, (f"UNKNOWN_ERROR_CODE_{code}", False))
        cls = type(
            "".join(part.capitalize() for part in name.split("_")) + "Error",
            (BrokerError,),
            {"code": code, "name": name, "retriable": retriable, "__module__": __name__},
        )
        _GENERIC[code] = cls
    return cls


def error_for_code(code: int, message: Optional[str] = None) -> BrokerError:
    """Build the typed exception for a broker error code, with the broker's message."""
    return error_class(code)(message)


def is_retriable(code: int) -> bool:
    return error_class(code).retriable
