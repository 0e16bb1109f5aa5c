"""InitProducerId (key 22). v2 first flexible; v3 resumes a producer id
(KIP-360); v6 two-phase commit fields (KIP-939, unstable in 4.1)."""
from ..schema import F, message

REQUEST = message("InitProducerIdRequest", 22, "0-6", "2+", [
    F("TransactionalId", "string", "0+", nullable="0+"),
    F("TransactionTimeoutMs", "int32", "0+"),
    F("ProducerId", "int64", "3+", default=-1),
    F("ProducerEpoch", "int16", "3+", default=-1),
    F("Enable2Pc", "bool", "6+", default=False),
    F("KeepPreparedTxn", "bool", "6+", default=False),
])

RESPONSE = message("InitProducerIdResponse", 22, "0-6", "2+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "0+"),
    F("ProducerId", "int64", "0+", default=-1),
    F("ProducerEpoch", "int16", "0+"),
    F("OngoingTxnProducerId", "int64", "6+", default=-1),
    F("OngoingTxnProducerEpoch", "int16", "6+", default=-1),
])
