"""Kafka wire protocol: primitive codecs, message schemas, compiled codecs.

Public entry points (see api.py for details)::

    encode_request(api, version, correlation_id, client_id, body) -> EncodedRequest(chunks, size)
    decode_response(api, version, data, expected_correlation_id=None) -> (correlation_id, body)
    pick_version(api, broker_versions, supported=None) -> int

``api`` is a name ("Produce") or key (0). Bodies are the generated, slotted
message classes, all re-exported by ``kprod._internals.protocol.types``::

    from kprod._internals.protocol import types
    body = types.MetadataRequest(topics=[types.MetadataRequestTopic(name="t")])
    correlation_id, response = decode_response("Metadata", 12, frame)
    response.brokers[0].node_id

Top-level classes are ``<Api>Request`` / ``<Api>Response``; nested structs are
named by the spec's struct type (``PartitionProduceResponse``); attributes are
the snake_case form of the spec's field names (``schema.snake``). The classes
and codecs are checked-in source in ``generated/``, written from the schemas in
``messages/`` by ``python -m kprod._internals.protocol.generate`` (see
generate.py); nothing is compiled at run time.
"""
from .api import (EncodedRequest, decode_request, decode_response, encode_request,
                  encode_response, request_codec, response_codec)
from .messages import API_KEYS, APIS, BY_KEY, BY_NAME, SUPPORTED_VERSIONS
from .negotiation import broker_versions, pick_version
from .schema import snake
from . import types

__all__ = [
    "API_KEYS", "APIS", "BY_KEY", "BY_NAME", "EncodedRequest", "SUPPORTED_VERSIONS",
    "broker_versions", "decode_request", "decode_response", "encode_request",
    "encode_response", "pick_version", "request_codec", "response_codec", "snake", "types",
]
