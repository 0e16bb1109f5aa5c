"""SaslHandshake (key 17). Never flexible; v1 means SaslAuthenticate follows (KIP-152)."""
from ..schema import F, message

REQUEST = message("SaslHandshakeRequest", 17, "0-1", "none", [
    F("Mechanism", "string", "0+"),
])

RESPONSE = message("SaslHandshakeResponse", 17, "0-1", "none", [
    F("ErrorCode", "int16", "0+"),
    F("Mechanisms", "[]string", "0+"),
])
