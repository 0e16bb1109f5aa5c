"""CreateTopics (key 19). v5 first flexible and returns the topic's configs (KIP-525);
v7 returns the topic id (KIP-516). Below v2 the broker no longer answers (Kafka 4.0)."""
from ..schema import F, message

REQUEST = message("CreateTopicsRequest", 19, "2-7", "5+", [
    F("Topics", "[]CreatableTopic", "0+", fields=[
        F("Name", "string", "0+"),
        F("NumPartitions", "int32", "0+"),
        F("ReplicationFactor", "int16", "0+"),
        F("Assignments", "[]CreatableReplicaAssignment", "0+", fields=[
            F("PartitionIndex", "int32", "0+"),
            F("BrokerIds", "[]int32", "0+"),
        ]),
        F("Configs", "[]CreatableTopicConfig", "0+", fields=[
            F("Name", "string", "0+"),
            F("Value", "string", "0+", nullable="0+"),
        ]),
    ]),
    F("timeoutMs", "int32", "0+", default=60000),
    F("validateOnly", "bool", "1+", default=False),
])

RESPONSE = message("CreateTopicsResponse", 19, "2-7", "5+", [
    F("ThrottleTimeMs", "int32", "2+"),
    F("Topics", "[]CreatableTopicResult", "0+", fields=[
        F("Name", "string", "0+"),
        F("TopicId", "uuid", "7+"),
        F("ErrorCode", "int16", "0+"),
        F("ErrorMessage", "string", "1+", nullable="0+"),
        F("TopicConfigErrorCode", "int16", "5+", tag=0, tagged="5+"),
        F("NumPartitions", "int32", "5+", default=-1),
        F("ReplicationFactor", "int16", "5+", default=-1),
        F("Configs", "[]CreatableTopicConfigs", "5+", nullable="5+", fields=[
            F("Name", "string", "5+"),
            F("Value", "string", "5+", nullable="5+"),
            F("ReadOnly", "bool", "5+"),
            F("ConfigSource", "int8", "5+", default=-1),
            F("IsSensitive", "bool", "5+"),
        ]),
    ]),
])
