"""Exception hierarchy and one class per broker error code.

Names follow the Java client's exceptions with ``Error`` for ``Exception``
(``RecordTooLargeException`` -> ``RecordTooLargeError``). Where Kafka's error-code
name (the ``org.apache.kafka.common.protocol.Errors`` enum) reads differently, it is
an alias of the same class: ``GroupAuthorizationFailedError is GroupAuthorizationError``,
``MessageTooLargeError is RecordTooLargeError``. ``for_code(code)`` returns the class.

The bases mirror Java's:

- ``KafkaError`` (Java's KafkaException): everything kprod raises.
- ``BrokerError``, also importable as ``ApiError`` (ApiException): an error code a
  broker returned; ``.code`` and ``.name`` say which.
- ``RetriableError`` (RetriableException): retrying may succeed. Every class with
  ``retriable = True`` derives from it and vice versa, including the client-side
  ``KafkaTimeoutError`` and ``KafkaConnectionError``.
- ``InvalidMetadataError`` (InvalidMetadataException): retriable; metadata was stale.
- ``InvalidConfigurationError`` (InvalidConfigurationException, code 40): the base of
  the authorization, SASL, topic-name and request-shape errors, as in Java.
- ``AuthorizationError`` (AuthorizationException): every ``*AuthorizationError``.
- ``AuthenticationError`` (AuthenticationException): TLS or SASL failed, on the client
  or as a broker code (SASL codes are also ``InvalidConfigurationError``, as in Java).

Two Java classes are split in two here: Java's TimeoutException is
``KafkaTimeoutError`` for client-side bounds (``max.block.ms``,
``delivery.timeout.ms``) and ``RequestTimedOutError`` for the broker's
REQUEST_TIMED_OUT (``RetriableError`` catches both); Java's CorruptRecordException is
``CorruptRecordError`` for bytes kprod reads and its retriable subclass
``CorruptMessageError`` for the broker's CORRUPT_MESSAGE.

The code classes were generated from the Errors enum of kafka-clients 4.1.2 (code,
name, exception class, ``instanceof RetriableException`` and its superclasses);
tests/test_errors.py checks the table against the jar.
"""
from __future__ import annotations

from typing import Dict, Optional, Type


class KafkaError(Exception):
    """Base of every error kprod raises."""

    retriable: bool = False


class RetriableError(KafkaError):
    """Retrying the operation may succeed (Java's RetriableException)."""

    retriable = True


class ConfigError(KafkaError, ValueError):
    """A setting is unknown, has the wrong type or range, or conflicts with another."""


class SerializationError(KafkaError):
    """A key, value or header could not be turned into bytes."""


class BulkInputError(SerializationError, ValueError):
    """A ``send_many()`` argument cannot be used: a length that differs from the
    values', an unsupported dtype or Arrow type, an item that is not bytes, an
    out-of-range partition or a negative timestamp. Raised before any record of the
    call is queued; ``argument`` names it and ``index`` is the first bad record
    (None when the whole argument is wrong)."""

    def __init__(self, message: str, argument: str, index: Optional[int] = None) -> None:
        super().__init__(message)
        self.argument = argument
        self.index = index


class CorruptRecordError(KafkaError):
    """Record bytes are truncated, malformed or fail their CRC."""


class ProtocolError(KafkaError):
    """Bytes from the network do not form a valid Kafka response."""


class KafkaConnectionError(RetriableError):
    """A broker connection could not be set up or was lost."""


class DnsLookupError(KafkaConnectionError):
    """A broker host name could not be resolved."""


class AuthenticationError(KafkaError):
    """TLS or SASL authentication failed."""


class KafkaTimeoutError(RetriableError, TimeoutError):
    """An operation did not finish within its configured time bound."""


class BufferExhaustedError(KafkaTimeoutError):
    """``buffer.memory`` could not serve an allocation within ``max.block.ms``."""


class ProducerClosedError(KafkaError):
    """The producer is closed; no more records are accepted."""


class IllegalStateError(KafkaError):
    """An operation is not valid in the producer's current state."""


class TransactionAbortRequiredError(IllegalStateError):
    """The open transaction hit an error (a record failed, or send() raised for one of
    its records): it cannot be committed, only aborted. ``__cause__`` is the first error."""


class TransactionAbortedError(KafkaError):
    """The record's transaction was aborted before the record was sent."""


class StaleBufferError(IllegalStateError, BufferError):
    """A PooledBuffer was used after ``release()`` (its memory may belong to someone else)."""


class BrokerError(KafkaError):
    """An error code returned by a broker (Java's ApiException)."""

    code: int = -1
    name: str = "UNKNOWN_SERVER_ERROR"

    def __init__(self, message: Optional[str] = None) -> None:
        text = self.name if not message else f"{self.name}: {message}"
        super().__init__(text)
        self.message = message


ApiError = BrokerError


class InvalidMetadataError(BrokerError, RetriableError):
    """The client's metadata is stale (leader moved, topic unknown): refresh and retry."""


class AuthorizationError(BrokerError):
    """The principal may not do this (Java's AuthorizationException)."""


class InvalidConfigurationError(BrokerError):
    """A setting the broker was given is invalid; Java's InvalidConfigurationException,
    also the base of the errors Java derives from it (authorization, SASL, topic name, ...)."""

    code, name = 40, "INVALID_CONFIG"


class UnknownServerError(BrokerError):
    code, name = -1, "UNKNOWN_SERVER_ERROR"


class OffsetOutOfRangeError(BrokerError):
    code, name = 1, "OFFSET_OUT_OF_RANGE"


class CorruptMessageError(BrokerError, RetriableError, CorruptRecordError):
    """The broker found a batch corrupt (CRC, size, null key on a compacted topic).
    Java's CorruptRecordException; a :class:`CorruptRecordError`, but retriable."""

    code, name = 2, "CORRUPT_MESSAGE"


class UnknownTopicOrPartitionError(InvalidMetadataError):
    code, name = 3, "UNKNOWN_TOPIC_OR_PARTITION"


class InvalidFetchSizeError(BrokerError):
    code, name = 4, "INVALID_FETCH_SIZE"


class LeaderNotAvailableError(InvalidMetadataError):
    code, name = 5, "LEADER_NOT_AVAILABLE"


class NotLeaderOrFollowerError(InvalidMetadataError):
    code, name = 6, "NOT_LEADER_OR_FOLLOWER"


class RequestTimedOutError(BrokerError, KafkaTimeoutError):
    """The broker's REQUEST_TIMED_OUT. Java raises its TimeoutException for it, the class
    of its client-side time bounds too, so it is a :class:`KafkaTimeoutError` here as
    well (``except KafkaTimeoutError`` catches both, as ``catch (TimeoutException e)``)."""

    code, name = 7, "REQUEST_TIMED_OUT"


class BrokerNotAvailableError(BrokerError):
    code, name = 8, "BROKER_NOT_AVAILABLE"


class ReplicaNotAvailableError(InvalidMetadataError):
    code, name = 9, "REPLICA_NOT_AVAILABLE"


class RecordTooLargeError(BrokerError):
    """A record or batch exceeds ``max.request.size``, ``buffer.memory`` or the broker's limit."""

    code, name = 10, "MESSAGE_TOO_LARGE"


class ControllerMovedError(BrokerError):
    code, name = 11, "STALE_CONTROLLER_EPOCH"


class OffsetMetadataTooLargeError(BrokerError):
    code, name = 12, "OFFSET_METADATA_TOO_LARGE"


class NetworkError(InvalidMetadataError):
    code, name = 13, "NETWORK_EXCEPTION"


class CoordinatorLoadInProgressError(BrokerError, RetriableError):
    code, name = 14, "COORDINATOR_LOAD_IN_PROGRESS"


class CoordinatorNotAvailableError(BrokerError, RetriableError):
    code, name = 15, "COORDINATOR_NOT_AVAILABLE"


class NotCoordinatorError(BrokerError, RetriableError):
    code, name = 16, "NOT_COORDINATOR"


class InvalidTopicError(InvalidConfigurationError):
    code, name = 17, "INVALID_TOPIC_EXCEPTION"


class RecordBatchTooLargeError(InvalidConfigurationError):
    code, name = 18, "RECORD_LIST_TOO_LARGE"


class NotEnoughReplicasError(BrokerError, RetriableError):
    code, name = 19, "NOT_ENOUGH_REPLICAS"


class NotEnoughReplicasAfterAppendError(BrokerError, RetriableError):
    code, name = 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND"


class InvalidRequiredAcksError(InvalidConfigurationError):
    code, name = 21, "INVALID_REQUIRED_ACKS"


class IllegalGenerationError(BrokerError):
    code, name = 22, "ILLEGAL_GENERATION"


class InconsistentGroupProtocolError(BrokerError):
    code, name = 23, "INCONSISTENT_GROUP_PROTOCOL"


class InvalidGroupIdError(BrokerError):
    code, name = 24, "INVALID_GROUP_ID"


class UnknownMemberIdError(BrokerError):
    code, name = 25, "UNKNOWN_MEMBER_ID"


class InvalidSessionTimeoutError(BrokerError):
    code, name = 26, "INVALID_SESSION_TIMEOUT"


class RebalanceInProgressError(BrokerError):
    code, name = 27, "REBALANCE_IN_PROGRESS"


class InvalidCommitOffsetSizeError(BrokerError):
    code, name = 28, "INVALID_COMMIT_OFFSET_SIZE"


class TopicAuthorizationError(AuthorizationError, InvalidConfigurationError):
    code, name = 29, "TOPIC_AUTHORIZATION_FAILED"


class GroupAuthorizationError(AuthorizationError, InvalidConfigurationError):
    code, name = 30, "GROUP_AUTHORIZATION_FAILED"


class ClusterAuthorizationError(AuthorizationError, InvalidConfigurationError):
    code, name = 31, "CLUSTER_AUTHORIZATION_FAILED"


class InvalidTimestampError(BrokerError):
    code, name = 32, "INVALID_TIMESTAMP"


class UnsupportedSaslMechanismError(InvalidConfigurationError, AuthenticationError):
    """The broker does not enable the configured ``sasl.mechanism``."""

    code, name = 33, "UNSUPPORTED_SASL_MECHANISM"


class IllegalSaslStateError(InvalidConfigurationError, AuthenticationError):
    code, name = 34, "ILLEGAL_SASL_STATE"


class UnsupportedVersionError(InvalidConfigurationError):
    """The broker does not support a request version kprod needs."""

    code, name = 35, "UNSUPPORTED_VERSION"


class TopicExistsError(BrokerError):
    code, name = 36, "TOPIC_ALREADY_EXISTS"


class InvalidPartitionsError(BrokerError):
    code, name = 37, "INVALID_PARTITIONS"


class InvalidReplicationFactorError(InvalidConfigurationError):
    code, name = 38, "INVALID_REPLICATION_FACTOR"


class InvalidReplicaAssignmentError(BrokerError):
    code, name = 39, "INVALID_REPLICA_ASSIGNMENT"


class NotControllerError(BrokerError, RetriableError):
    code, name = 41, "NOT_CONTROLLER"


class InvalidRequestError(BrokerError):
    code, name = 42, "INVALID_REQUEST"


class UnsupportedForMessageFormatError(InvalidConfigurationError):
    code, name = 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT"


class PolicyViolationError(BrokerError):
    code, name = 44, "POLICY_VIOLATION"


class OutOfOrderSequenceError(BrokerError):
    code, name = 45, "OUT_OF_ORDER_SEQUENCE_NUMBER"


class DuplicateSequenceError(BrokerError):
    code, name = 46, "DUPLICATE_SEQUENCE_NUMBER"


class InvalidProducerEpochError(BrokerError):
    code, name = 47, "INVALID_PRODUCER_EPOCH"


class InvalidTxnStateError(BrokerError):
    code, name = 48, "INVALID_TXN_STATE"


class InvalidPidMappingError(BrokerError):
    code, name = 49, "INVALID_PRODUCER_ID_MAPPING"


class InvalidTxnTimeoutError(BrokerError):
    code, name = 50, "INVALID_TRANSACTION_TIMEOUT"


class ConcurrentTransactionsError(BrokerError, RetriableError):
    code, name = 51, "CONCURRENT_TRANSACTIONS"


class TransactionCoordinatorFencedError(BrokerError):
    code, name = 52, "TRANSACTION_COORDINATOR_FENCED"


class TransactionalIdAuthorizationError(AuthorizationError, InvalidConfigurationError):
    code, name = 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"


class SecurityDisabledError(BrokerError):
    code, name = 54, "SECURITY_DISABLED"


class OperationNotAttemptedError(BrokerError):
    code, name = 55, "OPERATION_NOT_ATTEMPTED"


class KafkaStorageError(InvalidMetadataError):
    code, name = 56, "KAFKA_STORAGE_ERROR"


class LogDirNotFoundError(BrokerError):
    code, name = 57, "LOG_DIR_NOT_FOUND"


class SaslAuthenticationError(InvalidConfigurationError, AuthenticationError):
    code, name = 58, "SASL_AUTHENTICATION_FAILED"


class UnknownProducerIdError(OutOfOrderSequenceError):
    code, name = 59, "UNKNOWN_PRODUCER_ID"


class ReassignmentInProgressError(BrokerError):
    code, name = 60, "REASSIGNMENT_IN_PROGRESS"


class DelegationTokenDisabledError(BrokerError):
    code, name = 61, "DELEGATION_TOKEN_AUTH_DISABLED"


class DelegationTokenNotFoundError(BrokerError):
    code, name = 62, "DELEGATION_TOKEN_NOT_FOUND"


class DelegationTokenOwnerMismatchError(BrokerError):
    code, name = 63, "DELEGATION_TOKEN_OWNER_MISMATCH"


class UnsupportedByAuthenticationError(BrokerError):
    code, name = 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"


class DelegationTokenAuthorizationError(AuthorizationError, InvalidConfigurationError):
    code, name = 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED"


class DelegationTokenExpiredError(BrokerError):
    code, name = 66, "DELEGATION_TOKEN_EXPIRED"


class InvalidPrincipalTypeError(BrokerError):
    code, name = 67, "INVALID_PRINCIPAL_TYPE"


class GroupNotEmptyError(BrokerError):
    code, name = 68, "NON_EMPTY_GROUP"


class GroupIdNotFoundError(BrokerError):
    code, name = 69, "GROUP_ID_NOT_FOUND"


class FetchSessionIdNotFoundError(BrokerError, RetriableError):
    code, name = 70, "FETCH_SESSION_ID_NOT_FOUND"


class InvalidFetchSessionEpochError(BrokerError, RetriableError):
    code, name = 71, "INVALID_FETCH_SESSION_EPOCH"


class ListenerNotFoundError(InvalidMetadataError):
    code, name = 72, "LISTENER_NOT_FOUND"


class TopicDeletionDisabledError(BrokerError):
    code, name = 73, "TOPIC_DELETION_DISABLED"


class FencedLeaderEpochError(InvalidMetadataError):
    code, name = 74, "FENCED_LEADER_EPOCH"


class UnknownLeaderEpochError(BrokerError, RetriableError):
    code, name = 75, "UNKNOWN_LEADER_EPOCH"


class UnsupportedCompressionTypeError(BrokerError):
    code, name = 76, "UNSUPPORTED_COMPRESSION_TYPE"


class StaleBrokerEpochError(BrokerError):
    code, name = 77, "STALE_BROKER_EPOCH"


class OffsetNotAvailableError(BrokerError, RetriableError):
    code, name = 78, "OFFSET_NOT_AVAILABLE"


class MemberIdRequiredError(BrokerError):
    code, name = 79, "MEMBER_ID_REQUIRED"


class PreferredLeaderNotAvailableError(InvalidMetadataError):
    code, name = 80, "PREFERRED_LEADER_NOT_AVAILABLE"


class GroupMaxSizeReachedError(BrokerError):
    code, name = 81, "GROUP_MAX_SIZE_REACHED"


class FencedInstanceIdError(BrokerError):
    code, name = 82, "FENCED_INSTANCE_ID"


class EligibleLeadersNotAvailableError(InvalidMetadataError):
    code, name = 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE"


class ElectionNotNeededError(InvalidMetadataError):
    code, name = 84, "ELECTION_NOT_NEEDED"


class NoReassignmentInProgressError(BrokerError):
    code, name = 85, "NO_REASSIGNMENT_IN_PROGRESS"


class GroupSubscribedToTopicError(BrokerError):
    code, name = 86, "GROUP_SUBSCRIBED_TO_TOPIC"


class InvalidRecordError(InvalidConfigurationError):
    code, name = 87, "INVALID_RECORD"


class UnstableOffsetCommitError(BrokerError, RetriableError):
    code, name = 88, "UNSTABLE_OFFSET_COMMIT"


class ThrottlingQuotaExceededError(BrokerError, RetriableError):
    code, name = 89, "THROTTLING_QUOTA_EXCEEDED"


class ProducerFencedError(BrokerError):
    """Another producer with the same ``transactional.id`` has a newer epoch (fatal)."""

    code, name = 90, "PRODUCER_FENCED"


class ResourceNotFoundError(BrokerError):
    code, name = 91, "RESOURCE_NOT_FOUND"


class DuplicateResourceError(BrokerError):
    code, name = 92, "DUPLICATE_RESOURCE"


class UnacceptableCredentialError(BrokerError):
    code, name = 93, "UNACCEPTABLE_CREDENTIAL"


class InconsistentVoterSetError(BrokerError):
    code, name = 94, "INCONSISTENT_VOTER_SET"


class InvalidUpdateVersionError(BrokerError):
    code, name = 95, "INVALID_UPDATE_VERSION"


class FeatureUpdateFailedError(BrokerError):
    code, name = 96, "FEATURE_UPDATE_FAILED"


class PrincipalDeserializationError(BrokerError):
    code, name = 97, "PRINCIPAL_DESERIALIZATION_FAILURE"


class SnapshotNotFoundError(BrokerError):
    code, name = 98, "SNAPSHOT_NOT_FOUND"


class PositionOutOfRangeError(BrokerError):
    code, name = 99, "POSITION_OUT_OF_RANGE"


class UnknownTopicIdError(InvalidMetadataError):
    code, name = 100, "UNKNOWN_TOPIC_ID"


class DuplicateBrokerRegistrationError(BrokerError):
    code, name = 101, "DUPLICATE_BROKER_REGISTRATION"


class BrokerIdNotRegisteredError(BrokerError):
    code, name = 102, "BROKER_ID_NOT_REGISTERED"


class InconsistentTopicIdError(InvalidMetadataError):
    code, name = 103, "INCONSISTENT_TOPIC_ID"


class InconsistentClusterIdError(BrokerError):
    code, name = 104, "INCONSISTENT_CLUSTER_ID"


class TransactionalIdNotFoundError(BrokerError):
    code, name = 105, "TRANSACTIONAL_ID_NOT_FOUND"


class FetchSessionTopicIdError(BrokerError, RetriableError):
    code, name = 106, "FETCH_SESSION_TOPIC_ID_ERROR"


class IneligibleReplicaError(BrokerError):
    code, name = 107, "INELIGIBLE_REPLICA"


class NewLeaderElectedError(BrokerError):
    code, name = 108, "NEW_LEADER_ELECTED"


class OffsetMovedToTieredStorageError(BrokerError):
    code, name = 109, "OFFSET_MOVED_TO_TIERED_STORAGE"


class FencedMemberEpochError(BrokerError):
    code, name = 110, "FENCED_MEMBER_EPOCH"


class UnreleasedInstanceIdError(BrokerError):
    code, name = 111, "UNRELEASED_INSTANCE_ID"


class UnsupportedAssignorError(BrokerError):
    code, name = 112, "UNSUPPORTED_ASSIGNOR"


class StaleMemberEpochError(BrokerError):
    code, name = 113, "STALE_MEMBER_EPOCH"


class MismatchedEndpointTypeError(BrokerError):
    code, name = 114, "MISMATCHED_ENDPOINT_TYPE"


class UnsupportedEndpointTypeError(BrokerError):
    code, name = 115, "UNSUPPORTED_ENDPOINT_TYPE"


class UnknownControllerIdError(BrokerError):
    code, name = 116, "UNKNOWN_CONTROLLER_ID"


class UnknownSubscriptionIdError(BrokerError):
    code, name = 117, "UNKNOWN_SUBSCRIPTION_ID"


class TelemetryTooLargeError(BrokerError):
    code, name = 118, "TELEMETRY_TOO_LARGE"


class InvalidRegistrationError(BrokerError):
    code, name = 119, "INVALID_REGISTRATION"


class TransactionAbortableError(BrokerError):
    code, name = 120, "TRANSACTION_ABORTABLE"


class InvalidRecordStateError(BrokerError):
    code, name = 121, "INVALID_RECORD_STATE"


class ShareSessionNotFoundError(BrokerError, RetriableError):
    code, name = 122, "SHARE_SESSION_NOT_FOUND"


class InvalidShareSessionEpochError(BrokerError, RetriableError):
    code, name = 123, "INVALID_SHARE_SESSION_EPOCH"


class FencedStateEpochError(BrokerError):
    code, name = 124, "FENCED_STATE_EPOCH"


class InvalidVoterKeyError(BrokerError):
    code, name = 125, "INVALID_VOTER_KEY"


class DuplicateVoterError(BrokerError):
    code, name = 126, "DUPLICATE_VOTER"


class VoterNotFoundError(BrokerError):
    code, name = 127, "VOTER_NOT_FOUND"


class InvalidRegularExpressionError(BrokerError):
    code, name = 128, "INVALID_REGULAR_EXPRESSION"


class RebootstrapRequiredError(BrokerError):
    code, name = 129, "REBOOTSTRAP_REQUIRED"


class StreamsInvalidTopologyError(BrokerError):
    code, name = 130, "STREAMS_INVALID_TOPOLOGY"


class StreamsInvalidTopologyEpochError(BrokerError):
    code, name = 131, "STREAMS_INVALID_TOPOLOGY_EPOCH"


class StreamsTopologyFencedError(BrokerError):
    code, name = 132, "STREAMS_TOPOLOGY_FENCED"


class ShareSessionLimitReachedError(BrokerError, RetriableError):
    code, name = 133, "SHARE_SESSION_LIMIT_REACHED"


# Java's error-code names (Errors enum) where they differ from the class name above.
MessageTooLargeError = RecordTooLargeError
StaleControllerEpochError = ControllerMovedError
RecordListTooLargeError = RecordBatchTooLargeError
TopicAuthorizationFailedError = TopicAuthorizationError
GroupAuthorizationFailedError = GroupAuthorizationError
ClusterAuthorizationFailedError = ClusterAuthorizationError
TopicAlreadyExistsError = TopicExistsError
OutOfOrderSequenceNumberError = OutOfOrderSequenceError
DuplicateSequenceNumberError = DuplicateSequenceError
InvalidProducerIdMappingError = InvalidPidMappingError
InvalidTransactionTimeoutError = InvalidTxnTimeoutError
TransactionalIdAuthorizationFailedError = TransactionalIdAuthorizationError
SaslAuthenticationFailedError = SaslAuthenticationError
DelegationTokenAuthDisabledError = DelegationTokenDisabledError
DelegationTokenRequestNotAllowedError = UnsupportedByAuthenticationError
DelegationTokenAuthorizationFailedError = DelegationTokenAuthorizationError
NonEmptyGroupError = GroupNotEmptyError
PrincipalDeserializationFailureError = PrincipalDeserializationError

InvalidConfigError = InvalidConfigurationError


def _code_classes() -> Dict[int, Type[BrokerError]]:
    table: Dict[int, Type[BrokerError]] = {}
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, BrokerError) and "code" in vars(value):
            table[value.code] = value
    return table


_BY_CODE: Dict[int, Type[BrokerError]] = _code_classes()
_UNKNOWN: Dict[int, Type[BrokerError]] = {}


def for_code(code: int) -> Type[BrokerError]:
    """The exception class of a broker error code. A code this table does not know
    (a newer broker) gets a generated ``BrokerError`` subclass, the same one each time."""
    if code == 0:
        raise ValueError("error code 0 is NONE: not an error")
    cls = _BY_CODE.get(code) or _UNKNOWN.get(code)
    if cls is None:
        cls = type(f"UnknownErrorCode{code}Error".replace("-", "Minus"), (BrokerError,),
                   {"code": code, "name": f"UNKNOWN_ERROR_CODE_{code}", "__module__": __name__})
        _UNKNOWN[code] = cls
    return cls


error_class = for_code


def error_for_code(code: int, message: Optional[str] = None) -> BrokerError:
    """Build the typed exception for a broker error code, with the broker's message."""
    return for_code(code)(message)


def is_retriable(code: int) -> bool:
    return for_code(code).retriable
