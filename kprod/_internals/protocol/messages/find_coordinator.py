"""FindCoordinator (key 10). v3 first flexible; v4 batches keys (KIP-699)."""
from ..schema import F, message

REQUEST = message("FindCoordinatorRequest", 10, "0-6", "3+", [
    F("Key", "string", "0-3"),
    F("KeyType", "int8", "1+", default=0),
    F("CoordinatorKeys", "[]string", "4+"),
])

RESPONSE = message("FindCoordinatorResponse", 10, "0-6", "3+", [
    F("ThrottleTimeMs", "int32", "1+"),
    F("ErrorCode", "int16", "0-3"),
    F("ErrorMessage", "string", "1-3", nullable="1-3"),
    F("NodeId", "int32", "0-3"),
    F("Host", "string", "0-3"),
    F("Port", "int32", "0-3"),
    F("Coordinators", "[]Coordinator", "4+", fields=[
        F("Key", "string", "4+"),
        F("NodeId", "int32", "4+"),
        F("Host", "string", "4+"),
        F("Port", "int32", "4+"),
        F("ErrorCode", "int16", "4+"),
        F("ErrorMessage", "string", "4+", nullable="4+"),
    ]),
])
