"""Metadata (key 3). v9 first flexible (KIP-482); v10 topic ids (KIP-516);
v13 top-level error code."""
from ..schema import F, message

REQUEST = message("MetadataRequest", 3, "0-13", "9+", [
    F("Topics", "[]MetadataRequestTopic", "0+", nullable="1+", fields=[
        F("TopicId", "uuid", "10+"),
        F("Name", "string", "0+", nullable="10+"),
    ]),
    F("AllowAutoTopicCreation", "bool", "4+", default=True),
    F("IncludeClusterAuthorizedOperations", "bool", "8-10"),
    F("IncludeTopicAuthorizedOperations", "bool", "8+"),
])

RESPONSE = message("MetadataResponse", 3, "0-13", "9+", [
    F("ThrottleTimeMs", "int32", "3+"),
    F("Brokers", "[]MetadataResponseBroker", "0+", fields=[
        F("NodeId", "int32", "0+"),
        F("Host", "string", "0+"),
        F("Port", "int32", "0+"),
        F("Rack", "string", "1+", nullable="1+", default=None),
    ]),
    F("ClusterId", "string", "2+", nullable="2+", default=None),
    F("ControllerId", "int32", "1+", default=-1),
    F("Topics", "[]MetadataResponseTopic", "0+", fields=[
        F("ErrorCode", "int16", "0+"),
        F("Name", "string", "0+", nullable="12+"),
        F("TopicId", "uuid", "10+"),
        F("IsInternal", "bool", "1+", default=False),
        F("Partitions", "[]MetadataResponsePartition", "0+", fields=[
            F("ErrorCode", "int16", "0+"),
            F("PartitionIndex", "int32", "0+"),
            F("LeaderId", "int32", "0+"),
            F("LeaderEpoch", "int32", "7+", default=-1),
            F("ReplicaNodes", "[]int32", "0+"),
            F("IsrNodes", "[]int32", "0+"),
            F("OfflineReplicas", "[]int32", "5+"),
        ]),
        F("TopicAuthorizedOperations", "int32", "8+", default=-2147483648),
    ]),
    F("ClusterAuthorizedOperations", "int32", "8-10", default=-2147483648),
    F("ErrorCode", "int16", "13+"),
])
