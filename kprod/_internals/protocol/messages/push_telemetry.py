"""PushTelemetry (key 72, KIP-714): the client's metrics as an OTLP MetricsData
protobuf, possibly compressed. v0 only, flexible."""
from ..schema import F, message

REQUEST = message("PushTelemetryRequest", 72, "0", "0+", [
    F("ClientInstanceId", "uuid", "0+"),
    F("SubscriptionId", "int32", "0+"),
    F("Terminating", "bool", "0+"),
    F("CompressionType", "int8", "0+"),
    F("Metrics", "bytes", "0+"),
])

RESPONSE = message("PushTelemetryResponse", 72, "0", "0+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "0+"),
])
