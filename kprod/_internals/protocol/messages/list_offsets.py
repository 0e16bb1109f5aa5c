"""ListOffsets (key 2). v2 isolation level; v4 leader epochs (KIP-320); v6 first
flexible; v7 max timestamp (KIP-734); v8/v9 tiered-storage specs (KIP-405, KIP-1005);
v10 a timeout for remote lookups (KIP-1075)."""
from ..schema import F, message

REQUEST = message("ListOffsetsRequest", 2, "1-10", "6+", [
    F("ReplicaId", "int32", "0+"),
    F("IsolationLevel", "int8", "2+"),
    F("Topics", "[]ListOffsetsTopic", "0+", fields=[
        F("Name", "string", "0+"),
        F("Partitions", "[]ListOffsetsPartition", "0+", fields=[
            F("PartitionIndex", "int32", "0+"),
            F("CurrentLeaderEpoch", "int32", "4+", default=-1),
            F("Timestamp", "int64", "0+"),
        ]),
    ]),
    F("TimeoutMs", "int32", "10+"),
])

RESPONSE = message("ListOffsetsResponse", 2, "1-10", "6+", [
    F("ThrottleTimeMs", "int32", "2+"),
    F("Topics", "[]ListOffsetsTopicResponse", "0+", fields=[
        F("Name", "string", "0+"),
        F("Partitions", "[]ListOffsetsPartitionResponse", "0+", fields=[
            F("PartitionIndex", "int32", "0+"),
            F("ErrorCode", "int16", "0+"),
            F("Timestamp", "int64", "1+", default=-1),
            F("Offset", "int64", "1+", default=-1),
            F("LeaderEpoch", "int32", "4+", default=-1),
        ]),
    ]),
])
