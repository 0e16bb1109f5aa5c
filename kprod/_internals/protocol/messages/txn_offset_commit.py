"""TxnOffsetCommit (key 28). v3 first flexible, adds group metadata (KIP-447);
v5 TRANSACTION_ABORTABLE (KIP-890)."""
from ..schema import F, message

REQUEST = message("TxnOffsetCommitRequest", 28, "0-5", "3+", [
    F("TransactionalId", "string", "0+"),
    F("GroupId", "string", "0+"),
    F("ProducerId", "int64", "0+"),
    F("ProducerEpoch", "int16", "0+"),
    F("GenerationId", "int32", "3+", default=-1),
    F("MemberId", "string", "3+", default=""),
    F("GroupInstanceId", "string", "3+", nullable="3+", default=None),
    F("Topics", "[]TxnOffsetCommitRequestTopic", "0+", fields=[
        F("Name", "string", "0+"),
        F("Partitions", "[]TxnOffsetCommitRequestPartition", "0+", fields=[
            F("PartitionIndex", "int32", "0+"),
            F("CommittedOffset", "int64", "0+"),
            F("CommittedLeaderEpoch", "int32", "2+", default=-1),
            F("CommittedMetadata", "string", "0+", nullable="0+"),
        ]),
    ]),
])

RESPONSE = message("TxnOffsetCommitResponse", 28, "0-5", "3+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("Topics", "[]TxnOffsetCommitResponseTopic", "0+", fields=[
        F("Name", "string", "0+"),
        F("Partitions", "[]TxnOffsetCommitResponsePartition", "0+", fields=[
            F("PartitionIndex", "int32", "0+"),
            F("ErrorCode", "int16", "0+"),
        ]),
    ]),
])
