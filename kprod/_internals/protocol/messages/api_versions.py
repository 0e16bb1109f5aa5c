"""ApiVersions (key 18). KIP-511 added client software name/version (v3, the
first flexible version); v3+ responses carry tagged feature fields (KIP-584).
The response header is always v0 (see headers.py)."""
from ..schema import F, message

REQUEST = message("ApiVersionsRequest", 18, "0-4", "3+", [
    F("ClientSoftwareName", "string", "3+"),
    F("ClientSoftwareVersion", "string", "3+"),
])

RESPONSE = message("ApiVersionsResponse", 18, "0-4", "3+", [
    F("ErrorCode", "int16", "0+"),
    F("ApiKeys", "[]ApiVersion", "0+", fields=[
        F("ApiKey", "int16", "0+"),
        F("MinVersion", "int16", "0+"),
        F("MaxVersion", "int16", "0+"),
    ]),
    F("ThrottleTimeMs", "int32", "1+"),
    F("SupportedFeatures", "[]SupportedFeatureKey", "3+", tag=0, tagged="3+", fields=[
        F("Name", "string", "3+"),
        F("MinVersion", "int16", "3+"),
        F("MaxVersion", "int16", "3+"),
    ]),
    F("FinalizedFeaturesEpoch", "int64", "3+", tag=1, tagged="3+", default=-1),
    F("FinalizedFeatures", "[]FinalizedFeatureKey", "3+", tag=2, tagged="3+", fields=[
        F("Name", "string", "3+"),
        F("MaxVersionLevel", "int16", "3+"),
        F("MinVersionLevel", "int16", "3+"),
    ]),
    F("ZkMigrationReady", "bool", "3+", tag=3, tagged="3+", default=False),
])
