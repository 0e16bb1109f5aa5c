"""GetTelemetrySubscriptions (key 71, KIP-714): the client asks which metrics the
broker wants, how often, and in which compression. v0 only, flexible."""
from ..schema import F, message

REQUEST = message("GetTelemetrySubscriptionsRequest", 71, "0", "0+", [
    F("ClientInstanceId", "uuid", "0+"),       # zero on the first request
])

RESPONSE = message("GetTelemetrySubscriptionsResponse", 71, "0", "0+", [
    F("ThrottleTimeMs", "int32", "0+"),
    F("ErrorCode", "int16", "0+"),
    F("ClientInstanceId", "uuid", "0+"),       # assigned when the request's was zero
    F("SubscriptionId", "int32", "0+"),
    F("AcceptedCompressionTypes", "[]int8", "0+"),
    F("PushIntervalMs", "int32", "0+"),
    F("TelemetryMaxBytes", "int32", "0+"),
    F("DeltaTemporality", "bool", "0+"),
    F("RequestedMetrics", "[]string", "0+"),   # [] nothing; [""] everything
])
