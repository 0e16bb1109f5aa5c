"""Produce (key 0). v3 is the 4.0 baseline; v9 first flexible (KIP-482);
v10 adds leader hints CurrentLeader/NodeEndpoints as tagged fields (KIP-951);
v11/v12 TRANSACTION_ABORTABLE and implicit partition add (KIP-890);
v13 replaces topic names by topic ids (KIP-516).

``Records`` carries RecordBatch bytes: pass bytes/memoryview (or a list of
them); the encoder never copies them."""
from ..schema import F, message

REQUEST = message("ProduceRequest", 0, "3-13", "9+", [
    F("TransactionalId", "string", "3+", nullable="3+", default=None),
    F("Acks", "int16", "0+"),
    F("TimeoutMs", "int32", "0+"),
    F("TopicData", "[]TopicProduceData", "0+", fields=[
        F("Name", "string", "0-12"),
        F("TopicId", "uuid", "13+"),
        F("PartitionData", "[]PartitionProduceData", "0+", fields=[
            F("Index", "int32", "0+"),
            F("Records", "records", "0+", nullable="0+"),
        ]),
    ]),
])

RESPONSE = message("ProduceResponse", 0, "3-13", "9+", [
    F("Responses", "[]TopicProduceResponse", "0+", fields=[
        F("Name", "string", "0-12"),
        F("TopicId", "uuid", "13+"),
        F("PartitionResponses", "[]PartitionProduceResponse", "0+", fields=[
            F("Index", "int32", "0+"),
            F("ErrorCode", "int16", "0+"),
            F("BaseOffset", "int64", "0+"),
            F("LogAppendTimeMs", "int64", "2+", default=-1),
            F("LogStartOffset", "int64", "5+", default=-1),
            F("RecordErrors", "[]BatchIndexAndErrorMessage", "8+", fields=[
                F("BatchIndex", "int32", "8+"),
                F("BatchIndexErrorMessage", "string", "8+", nullable="8+", default=None),
            ]),
            F("ErrorMessage", "string", "8+", nullable="8+", default=None),
            F("CurrentLeader", "LeaderIdAndEpoch", "10+", tag=0, tagged="10+", fields=[
                F("LeaderId", "int32", "10+", default=-1),
                F("LeaderEpoch", "int32", "10+", default=-1),
            ]),
        ]),
    ]),
    F("ThrottleTimeMs", "int32", "1+", default=0),
    F("NodeEndpoints", "[]NodeEndpoint", "10+", tag=0, tagged="10+", fields=[
        F("NodeId", "int32", "10+"),
        F("Host", "string", "10+"),
        F("Port", "int32", "10+"),
        F("Rack", "string", "10+", nullable="10+", default=None),
    ]),
])
