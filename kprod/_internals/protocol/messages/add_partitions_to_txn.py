"""AddPartitionsToTxn (key 24). v3 first flexible; v4+ is the broker-to-broker
batched form (KIP-890), clients use v3 and below; v5 TRANSACTION_ABORTABLE."""
from ..schema import F, message


_TOPIC = [  # commonStruct AddPartitionsToTxnTopic
    F("Name", "string", "0+"),
    F("Partitions", "[]int32", "0+"),
]


REQUEST = message("AddPartitionsToTxnRequest", 24, "0-5", "3+", [
    F("Transactions", "[]AddPartitionsToTxnTransaction", "4+", fields=[
        F("TransactionalId", "string", "4+"),
        F("ProducerId", "int64", "4+"),
        F("ProducerEpoch", "int16", "4+"),
        F("VerifyOnly", "bool", "4+", default=False),
        F("Topics", "[]AddPartitionsToTxnTopic", "4+", fields=_TOPIC),
    ]),
    F("V3AndBelowTransactionalId", "string", "0-3"),
    F("V3AndBelowProducerId", "int64", "0-3"),
    F("V3AndBelowProducerEpoch", "int16", "0-3"),
    F("V3AndBelowTopics", "[]AddPartitionsToTxnTopic", "0-3", fields=_TOPIC),
])

_TOPIC_RESULT = [  # commonStructs AddPartitionsToTxnTopicResult / ...PartitionResult
    F("Name", "string", "0+"),
    F("ResultsByPartition", "[]AddPartitionsToTxnPartitionResult", "0+", fields=[
        F("PartitionIndex", "int32", "0+"),
        F("PartitionErrorCode", "int16", "0+"),
    ]),
]

RESPONSE = message("AddPartitionsToTxnResponse", 24, "0-5", "3+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "4+"),
    F("ResultsByTransaction", "[]AddPartitionsToTxnResult", "4+", fields=[
        F("TransactionalId", "string", "4+"),
        F("TopicResults", "[]AddPartitionsToTxnTopicResult", "4+", fields=_TOPIC_RESULT),
    ]),
    F("ResultsByTopicV3AndBelow", "[]AddPartitionsToTxnTopicResult", "0-3", fields=_TOPIC_RESULT),
])
