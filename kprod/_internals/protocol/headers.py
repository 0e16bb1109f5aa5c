"""Request/response headers and which header version a message uses.

Request header v1: api_key int16, api_version int16, correlation_id int32,
client_id nullable string (always the int16-length form, even in v2, so any
broker can read it). v2 = v1 + tagged fields, used by flexible versions (KIP-482).
Response header v0: correlation_id int32; v1 = v0 + tagged fields.

Special case (KIP-511): ApiVersions responses always use header v0, because a
client may send a version the broker does not know and must still be able to
read the (v0-shaped) UNSUPPORTED_VERSION answer.
"""
from __future__ import annotations

import struct
from typing import Dict, Optional, Tuple

from . import primitives as P
from .schema import Message
from .structs import Struct

API_VERSIONS_KEY = 18

REQUEST_HEADER = struct.Struct(">hhi")
_client_id_cache: Dict[Optional[str], bytes] = {}


class RequestHeader(Struct):
    """A decoded request header (fake brokers and tests read requests)."""

    __slots__ = ("api_key", "api_version", "correlation_id", "client_id")

    api_key: int
    api_version: int
    correlation_id: int
    client_id: Optional[str]

    def __init__(self, api_key: int = 0, api_version: int = 0, correlation_id: int = 0,
                 client_id: Optional[str] = None) -> None:
        self.api_key = api_key
        self.api_version = api_version
        self.correlation_id = correlation_id
        self.client_id = client_id


def request_header_version(msg: Message, version: int) -> int:
    return 2 if msg.is_flexible(version) else 1


def response_header_version(msg: Message, version: int) -> int:
    if msg.api_key == API_VERSIONS_KEY:
        return 0
    return 1 if msg.is_flexible(version) else 0


def client_id_bytes(client_id: Optional[str]) -> bytes:
    """Encoded client_id (nullable int16 string), cached: it rarely changes."""
    b = _client_id_cache.get(client_id)
    if b is None:
        buf = bytearray()
        P.write_nullable_string(buf, client_id)
        b = bytes(buf)
        if len(_client_id_cache) < 64:
            _client_id_cache[client_id] = b
    return b


def write_request_header(buf: bytearray, api_key: int, version: int, correlation_id: int,
                         client_id: Optional[str], header_version: int) -> None:
    buf += REQUEST_HEADER.pack(api_key, version, correlation_id)
    buf += client_id_bytes(client_id)
    if header_version >= 2:
        buf.append(0)  # no tagged fields


def read_request_header(d: memoryview, e: int, header_version: int) -> Tuple[RequestHeader, int]:
    where = "RequestHeader"
    if e < 8:
        raise P.truncated(where, 8, 0, e)
    api_key, api_version, correlation_id = REQUEST_HEADER.unpack_from(d, 0)
    client_id, p = P.read_string(d, 8, e, where + ".ClientId", True)
    if header_version >= 2:
        p = P.skip_tagged_fields(d, p, e, where + "<tagged fields>")
    return RequestHeader(api_key, api_version, correlation_id, client_id), p


def write_response_header(buf: bytearray, correlation_id: int, header_version: int) -> None:
    buf += P.INT32.pack(correlation_id)
    if header_version >= 1:
        buf.append(0)


def read_response_header(d: memoryview, e: int, header_version: int, where: str) -> Tuple[int, int]:
    if e < 4:
        raise P.truncated(where + " ResponseHeader.CorrelationId", 4, 0, e)
    correlation_id = P.INT32.unpack_from(d, 0)[0]
    p = 4
    if header_version >= 1:
        p = P.skip_tagged_fields(d, p, e, where + " ResponseHeader<tagged fields>")
    return correlation_id, p
