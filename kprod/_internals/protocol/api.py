"""Encode requests / decode responses (and the reverse, for tests and fake brokers).

Bodies are the generated message classes (``types.ProduceRequest(acks=-1, ...)``,
see types.py); attributes are the snake_case field names of the schema and
fields the caller does not set keep their defaults. Decoded bodies are
instances of the same classes, every field set (fields absent from the
version, or tagged fields not sent, carry their defaults).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple, Union

from kprod.errors import ProtocolError, UnsupportedVersionError

from . import headers as H
from . import primitives as P
from .generated import MODULES
from .messages import BY_KEY
from .negotiation import resolve_key
from .schema import Message
from .structs import Struct

ApiRef = Union[int, str]

_REQUEST_CODECS: Dict[Tuple[Union[int, str], int], Codec] = {}   # by key and by name
_RESPONSE_CODECS: Dict[Tuple[Union[int, str], int], Codec] = {}
_SIZE = struct.Struct(">i")
_ENCODE_ERRORS = (struct.error, TypeError, AttributeError, ValueError, OverflowError)
# Defence in depth: the generated decoders check bounds themselves, but any
# slip must still surface as ProtocolError.
_DECODE_ERRORS = (struct.error, IndexError, ValueError, TypeError, KeyError,
                  OverflowError, MemoryError, RecursionError)


@dataclass(frozen=True)
class Codec:
    """The generated codec of one (message, version)."""

    message: Message
    version: int
    flexible: bool
    body_type: type
    encode: Callable[[Any, bytearray, list], bytearray]
    decode: Callable[[memoryview, int, int], Tuple[Any, int]]
    response_header_version: int = 0  # for response codecs (see headers.py)


def _lookup(cache: Dict[Tuple[Union[int, str], int], Codec], api: ApiRef, version: int,
            response: bool) -> Codec:
    key = api if type(api) is int else resolve_key(api)
    codec = cache.get((key, version))
    if codec is None:
        entry = BY_KEY.get(key)
        if entry is None:
            raise ValueError(f"kprod has no schema for api_key {key}")
        msg = entry.response if response else entry.request
        if version not in msg.valid:
            raise ValueError(f"{msg.name} has no version {version} (valid: {msg.valid})")
        module = MODULES[key]
        if response:
            body_type, encode, decode = (module.RESPONSE_CLASS, module.ENCODE_RESPONSE[version],
                                         module.DECODE_RESPONSE[version])
        else:
            body_type, encode, decode = (module.REQUEST_CLASS, module.ENCODE_REQUEST[version],
                                         module.DECODE_REQUEST[version])
        codec = Codec(msg, version, msg.is_flexible(version), body_type, encode, decode,
                      H.response_header_version(entry.response, version))
        cache[(key, version)] = codec
        if type(api) is not int:
            cache[(api, version)] = codec  # by name too
    return codec


def request_codec(api: ApiRef, version: int) -> Codec:
    return _lookup(_REQUEST_CODECS, api, version, False)


def response_codec(api: ApiRef, version: int) -> Codec:
    return _lookup(_RESPONSE_CODECS, api, version, True)


class EncodedRequest(NamedTuple):
    """``chunks``: bytes-like pieces for ``socket.sendmsg``; record batches are
    the caller's objects, unchanged. ``size``: the frame's payload length (the
    value of the 4-byte size prefix; the frame is ``size + 4`` bytes when framed)."""

    chunks: List[Any]
    size: int


def _finish(chunks: List[Any], framed: bool, what: str) -> EncodedRequest:
    total = 0
    out = []
    for c in chunks:
        n = c.nbytes if type(c) is memoryview else len(c)
        if n:
            out.append(c)
            total += n
    size = total - 4 if framed else total
    if size > 0x7FFFFFFF:
        raise ValueError(f"{what}: encoded size {size} exceeds the protocol's int32 limit")
    if framed:
        _SIZE.pack_into(chunks[0], 0, size)
    return EncodedRequest(out, size)


def _check_body(codec: Codec, body: Any) -> None:
    if type(body) is not codec.body_type:
        raise TypeError(f"{codec.message.name} v{codec.version}: the body must be a "
                        f"{codec.body_type.__name__}, not {type(body).__name__}")


def encode_request(api: ApiRef, version: int, correlation_id: int, client_id: Optional[str],
                   body: Struct, *, framed: bool = True) -> EncodedRequest:
    """Header + body as chunks. ``framed`` puts the 4-byte size prefix first."""
    codec = request_codec(api, version)
    msg = codec.message
    _check_body(codec, body)
    buf = bytearray(b"\0\0\0\0") if framed else bytearray()
    H.write_request_header(buf, msg.api_key, version, correlation_id, client_id,
                           2 if codec.flexible else 1)
    chunks: List[Any] = [buf]
    try:
        codec.encode(body, buf, chunks)
    except _ENCODE_ERRORS as exc:
        raise ValueError(f"cannot encode {msg.name} v{version}: {exc}") from exc
    return _finish(chunks, framed, msg.name)


def _decode_body(codec: Codec, d: memoryview, p: int, e: int) -> Any:
    try:
        body, p = codec.decode(d, p, e)
    except ProtocolError as exc:
        # the generated decoders name the field path; add the message and version
        raise ProtocolError(f"{codec.message.name} v{codec.version}: {exc}") from None
    except _DECODE_ERRORS as exc:
        raise ProtocolError(f"{codec.message.name} v{codec.version}: malformed input "
                            f"({type(exc).__name__}: {exc})") from None
    if p != e:
        raise ProtocolError(f"{codec.message.name} v{codec.version}: "
                            f"{e - p} unexpected trailing bytes")
    return body


def decode_response(api: ApiRef, version: int, data: Any, *,
                    expected_correlation_id: Optional[int] = None) -> Tuple[int, Any]:
    """``(correlation_id, body)`` from a response frame *without* its size prefix.

    Raises ProtocolError on malformed input, trailing bytes, or a correlation id
    other than ``expected_correlation_id`` (when given).
    """
    codec = _RESPONSE_CODECS.get((api, version)) or response_codec(api, version)
    d = data if type(data) is memoryview and data.format == "B" else P.as_byte_view(data)
    e = len(d)
    if e >= 6 and codec.response_header_version == 1 and d[4] == 0:
        correlation_id = _SIZE.unpack_from(d, 0)[0]  # fast path: header v1 without tags
        p = 5
    else:
        correlation_id, p = H.read_response_header(
            d, e, codec.response_header_version, f"{codec.message.name} v{version}")
    if expected_correlation_id is not None and correlation_id != expected_correlation_id:
        raise ProtocolError(f"{codec.message.name} v{version}: correlation id {correlation_id} "
                            f"does not match the expected {expected_correlation_id}")
    if codec.message.api_key == H.API_VERSIONS_KEY and version > 0 and p + 2 <= e \
            and P.INT16.unpack_from(d, p)[0] == UnsupportedVersionError.code:
        # KIP-511: a broker that does not know our ApiVersions version answers
        # UNSUPPORTED_VERSION in the v0 body format, listing what it supports.
        codec = response_codec(api, 0)
    return correlation_id, _decode_body(codec, d, p, e)


def encode_response(api: ApiRef, version: int, correlation_id: int, body: Struct) -> bytes:
    """Response frame without size prefix (for fake brokers and tests)."""
    codec = response_codec(api, version)
    _check_body(codec, body)
    buf = bytearray()
    H.write_response_header(buf, correlation_id, H.response_header_version(codec.message, version))
    chunks: List[Any] = [buf]
    try:
        codec.encode(body, buf, chunks)
    except _ENCODE_ERRORS as exc:
        raise ValueError(f"cannot encode {codec.message.name} v{version}: {exc}") from exc
    return b"".join(bytes(c) for c in chunks)


def decode_request(data: Any) -> Tuple[H.RequestHeader, Any]:
    """``(header, body)`` from a request frame without size prefix (fake brokers, tests).

    The api key and version are read from the header itself."""
    d = P.as_byte_view(data)
    e = len(d)
    if e < 4:
        raise P.truncated("RequestHeader", 4, 0, e)
    key, version = struct.unpack_from(">hh", d, 0)
    entry = BY_KEY.get(key)
    if entry is None or version not in entry.request.valid:
        raise ProtocolError(f"RequestHeader: unsupported api_key {key} version {version}")
    codec = request_codec(key, version)
    header, p = H.read_request_header(d, e, H.request_header_version(codec.message, version))
    return header, _decode_body(codec, d, p, e)
