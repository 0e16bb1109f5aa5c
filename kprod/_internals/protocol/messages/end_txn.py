"""EndTxn (key 26). v3 first flexible; v4 TRANSACTION_ABORTABLE; v5 returns
the bumped producer id/epoch (KIP-890 part 2)."""
from ..schema import F, message

REQUEST = message("EndTxnRequest", 26, "0-5", "3+", [
    F("TransactionalId", "string", "0+"),
    F("ProducerId", "int64", "0+"),
    F("ProducerEpoch", "int16", "0+"),
    F("Committed", "bool", "0+"),
])

RESPONSE = message("EndTxnResponse", 26, "0-5", "3+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "0+"),
    F("ProducerId", "int64", "5+", default=-1),
    F("ProducerEpoch", "int16", "5+", default=-1),
])
