"""DeleteTopics (key 20). v4 first flexible; v6 names topics by name or id (KIP-516)."""
from ..schema import F, message

REQUEST = message("DeleteTopicsRequest", 20, "1-6", "4+", [
    F("Topics", "[]DeleteTopicState", "6+", fields=[
        F("Name", "string", "6+", nullable="6+", default=None),
        F("TopicId", "uuid", "6+"),
    ]),
    F("TopicNames", "[]string", "0-5"),
    F("TimeoutMs", "int32", "0+"),
])

RESPONSE = message("DeleteTopicsResponse", 20, "1-6", "4+", [
    F("ThrottleTimeMs", "int32", "1+"),
    F("Responses", "[]DeletableTopicResult", "0+", fields=[
        F("Name", "string", "0+", nullable="6+"),
        F("TopicId", "uuid", "6+"),
        F("ErrorCode", "int16", "0+"),
        F("ErrorMessage", "string", "5+", nullable="5+", default=None),
    ]),
])
