"""Kafka wire protocol: primitive codecs, message schemas, compiled codecs.

Public entry points (see api.py for details)::

    encode_request(api, version, correlation_id, client_id, body) -> EncodedRequest(chunks, size)
    decode_response(api, version, data, expected_correlation_id=None) -> (correlation_id, body)
    pick_version(api, broker_versions, supported=None) -> int

``api`` is a name ("Produce") or key (0). Bodies are dicts keyed by the
snake_case form of the spec's field names.
"""
from .api import (EncodedRequest, decode_request, decode_response, encode_request,
                  encode_response, request_codec, response_codec)
from .messages import API_KEYS, APIS, BY_KEY, BY_NAME, SUPPORTED_VERSIONS
from .negotiation import broker_versions, pick_version
from .schema import snake

__all__ = [
    "API_KEYS", "APIS", "BY_KEY", "BY_NAME", "EncodedRequest", "SUPPORTED_VERSIONS",
    "broker_versions", "decode_request", "decode_response", "encode_request",
    "encode_response", "pick_version", "request_codec", "response_codec", "snake",
]
