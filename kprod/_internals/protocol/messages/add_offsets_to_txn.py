"""AddOffsetsToTxn (key 25). v3 first flexible; v4 TRANSACTION_ABORTABLE (KIP-890)."""
from ..schema import F, message

REQUEST = message("AddOffsetsToTxnRequest", 25, "0-4", "3+", [
    F("TransactionalId", "string", "0+"),
    F("ProducerId", "int64", "0+"),
    F("ProducerEpoch", "int16", "0+"),
    F("GroupId", "string", "0+"),
])

RESPONSE = message("AddOffsetsToTxnResponse", 25, "0-4", "3+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "0+"),
])
