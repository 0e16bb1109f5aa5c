"""SaslAuthenticate (key 36). v1 session lifetime (KIP-368); v2 first flexible."""
from ..schema import F, message

REQUEST = message("SaslAuthenticateRequest", 36, "0-2", "2+", [
    F("AuthBytes", "bytes", "0+"),
])

RESPONSE = message("SaslAuthenticateResponse", 36, "0-2", "2+", [
    F("ErrorCode", "int16", "0+"),
    F("ErrorMessage", "string", "0+", nullable="0+"),
    F("AuthBytes", "bytes", "0+"),
    F("SessionLifetimeMs", "int64", "1+", default=0),
])
