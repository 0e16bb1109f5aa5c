"""The fuzz targets: bytes a broker (or a hostile peer) sends, into the code that reads them.

Each target takes one input and either returns (the input decoded, or was refused with
the target's typed error) or raises something else: that is a finding. ``ALLOWED`` says
which error each target may raise; :func:`run_one` applies it. The first byte of an input
picks a version (or an API and version) where a target covers several, so one corpus
holds them all.

The targets call the decoders the producer uses, with the release semantics: no
catch-all in between (the generated decoders are called directly as well as through
api.py, whose defence-in-depth net would turn an IndexError into a ProtocolError and hide
the slip). Importing this module imports kprod: run tests.fuzz.instrumented first to get
the instrumented native modules.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Callable, Dict, List, Tuple, Type

import crc32c

from kprod._internals import sasl
from kprod._internals.protocol import headers as H
from kprod._internals.protocol import primitives as P
from kprod._internals.protocol.api import response_codec
from kprod._internals.protocol.client import decode_client_response
from kprod._internals.protocol.messages import BY_NAME
from kprod._native.produce_response import decode_produce_frame
from kprod._native.batch_reader import read_batches
from kprod.errors import (
    AuthenticationError,
    CorruptRecordError,
    ProtocolError,
    UnsupportedVersionError,
)


class Finding(AssertionError):
    """Two decoders disagree, or a decoder returned something impossible."""


# ------------------------------------------------------------------ record batches
_HEADER_SIZE = 61
_CRC_AT = 17
_ATTRIBUTES_AT = 21


def records(data: bytes) -> None:
    """read_batches (batch_reader.pyx) on a fetched or split payload.

    Flags byte: bit 0 verify the CRC (bit 1 then recomputes the first batch's CRC so the
    mutated batch still reaches the parser), bit 2 allow a partial trailing batch."""
    if not data:
        return
    flags, payload = data[0], bytearray(data[1:])
    verify = bool(flags & 1)
    if verify and flags & 2 and len(payload) >= _HEADER_SIZE:
        length = struct.unpack_from(">i", payload, 8)[0]
        end = min(len(payload), 12 + max(length, 0))
        if end > _ATTRIBUTES_AT:
            struct.pack_into(">I", payload, _CRC_AT,
                             crc32c.crc32c(bytes(payload[_ATTRIBUTES_AT:end])))
    batches = read_batches(bytes(payload), verify_crc=verify, allow_partial=bool(flags & 4))
    for batch in batches:
        if len(batch.records) != batch.records_count:
            raise Finding(f"{len(batch.records)} records read, {batch.records_count} declared")


# ------------------------------------------------------------------ Produce responses
PRODUCE_VERSIONS = tuple(range(3, 14))


def _produce_as_dict(response) -> dict:
    """The native response in the generated decoder's to_dict() shape."""
    return {
        "responses": [{
            "name": t.name, "topic_id": t.topic_id,
            "partition_responses": [{
                "index": p.index, "error_code": p.error_code, "base_offset": p.base_offset,
                "log_append_time_ms": p.log_append_time_ms,
                "log_start_offset": p.log_start_offset,
                "record_errors": [{"batch_index": e.batch_index,
                                   "batch_index_error_message": e.batch_index_error_message}
                                  for e in p.record_errors],
                "error_message": p.error_message,
                "current_leader": {"leader_id": p.current_leader.leader_id,
                                   "leader_epoch": p.current_leader.leader_epoch},
            } for p in t.partition_responses],
        } for t in response.responses],
        "throttle_time_ms": response.throttle_time_ms,
        "node_endpoints": [{"node_id": n.node_id, "host": n.host, "port": n.port,
                            "rack": n.rack} for n in response.node_endpoints],
    }


def produce_response(data: bytes) -> None:
    """decode_produce_frame (produce_response.pyx), checked against the generated Python decoder
    of the same version: both refuse the frame, or both read the same response."""
    if not data:
        return
    version = PRODUCE_VERSIONS[data[0] % len(PRODUCE_VERSIONS)]
    frame = data[1:]
    try:
        native = decode_produce_frame(version, frame)
    except ProtocolError as exc:
        native = exc
    try:
        generated = _strict_decode("Produce", version, frame)
    except ProtocolError as exc:
        generated = exc
    if isinstance(native, ProtocolError) != isinstance(generated, ProtocolError):
        raise Finding(f"Produce v{version}: native {native!r} but generated {generated!r}")
    if isinstance(native, ProtocolError):
        raise native
    if native[0] != generated[0] or _produce_as_dict(native[1]) != generated[1].to_dict():
        raise Finding(f"Produce v{version}: native and generated decoders read different "
                      f"responses: {native!r} / {generated!r}")


# ------------------------------------------------------------- generated decoders
def _strict_decode(api: str, version: int, frame: bytes):
    """decode_response's steps without its defence-in-depth catch-all."""
    codec = response_codec(api, version)
    d = P.as_byte_view(frame)
    e = len(d)
    correlation_id, p = H.read_response_header(d, e, codec.response_header_version, api)
    if codec.message.api_key == H.API_VERSIONS_KEY and version > 0 and p + 2 <= e \
            and P.INT16.unpack_from(d, p)[0] == UnsupportedVersionError.code:
        codec = response_codec(api, 0)     # KIP-511 fallback, as api.decode_response
    try:
        body, p = codec.decode(d, p, e)
    except ProtocolError as exc:
        raise ProtocolError(f"{api} v{codec.version}: {exc}") from None
    if not 0 <= p <= e:
        raise Finding(f"{api} v{codec.version}: decoder ended at {p}, outside 0..{e}")
    if p != e:
        raise ProtocolError(f"{api} v{codec.version}: {e - p} trailing bytes")
    return correlation_id, body


def _pairs(*apis: str) -> List[Tuple[str, int]]:
    out = []
    for api in apis:
        low, high = BY_NAME[api].supported
        out.extend((api, v) for v in range(low, high + 1))
    return out


def _generated(pairs: List[Tuple[str, int]]) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        if not data:
            return
        api, version = pairs[data[0] % len(pairs)]
        frame = data[1:]
        try:
            strict = _strict_decode(api, version, frame)
        except ProtocolError as exc:
            strict = exc
        try:   # the connection's own entry point (client.py -> api.py)
            entry = decode_client_response(api, version, frame, None)
        except ProtocolError as exc:
            entry = exc
        if isinstance(strict, ProtocolError) != isinstance(entry, ProtocolError):
            raise Finding(f"{api} v{version}: strict {strict!r} but entry {entry!r}")
        if isinstance(strict, ProtocolError):
            raise strict
        if strict[0] != entry[0] or strict[1] != entry[1]:
            raise Finding(f"{api} v{version}: two decodes of one frame differ")
    return target


METADATA_PAIRS = _pairs("Metadata")
API_VERSIONS_PAIRS = _pairs("ApiVersions")
TRANSACTION_PAIRS = _pairs("InitProducerId", "FindCoordinator", "AddPartitionsToTxn",
                           "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit")
SASL_PAIRS = _pairs("SaslHandshake", "SaslAuthenticate")


# ------------------------------------------------------------------- SASL/SCRAM
CLIENT_NONCE = "fyko+d2lbbFgONRv9qkxdawL"
SERVER_FIRST = ("r=" + CLIENT_NONCE + "3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096").encode()
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")


class _CheapScram(sasl.Scram):
    """Scram with a one-round key derivation: the target measures the message parsing
    and checks, not PBKDF2 (hashlib's), which at 4096+ rounds would dominate."""

    def salted_password(self, salt: bytes, iterations: int) -> bytes:
        # hashlib.pbkdf2_hmac's own argument checks (CPython's _hashopenssl.c), so the
        # stand-in fails where the real derivation would.
        if iterations < 1:
            raise ValueError("iteration value must be greater than 0.")
        if iterations > 0x7FFFFFFF:
            raise OverflowError("iteration value is too great.")
        return hashlib.new(self.hash, self.creds.password.encode() + salt).digest()


def _scram(data: bytes) -> Tuple[_CheapScram, bytes]:
    mech = SCRAM_MECHANISMS[data[0] & 1] if data else SCRAM_MECHANISMS[0]
    m = _CheapScram(sasl.Credentials(mech, "user", "pencil"), nonce=CLIENT_NONCE)
    m.initial()
    return m, data[1:]


def scram_server_first(data: bytes) -> None:
    """Scram.step on the server-first message (RFC 5802 section 5.1)."""
    m, message = _scram(data)
    reply = m.step(message)
    if not reply or not reply.startswith(b"c=biws,r=" + CLIENT_NONCE.encode()):
        raise Finding(f"server-first accepted but the reply is {reply!r}")


def scram_server_final(data: bytes) -> None:
    """Scram.step on the server-final message after a valid server-first."""
    m, message = _scram(data)
    m.step(SERVER_FIRST)
    if m.step(message) is not None:
        raise Finding("server-final accepted with a reply")


# ------------------------------------------------------------------------ table
TARGETS: Dict[str, Callable[[bytes], None]] = {
    "records": records,
    "produce_response": produce_response,
    "metadata": _generated(METADATA_PAIRS),
    "api_versions": _generated(API_VERSIONS_PAIRS),
    "transactions": _generated(TRANSACTION_PAIRS),
    "sasl_messages": _generated(SASL_PAIRS),
    "scram_server_first": scram_server_first,
    "scram_server_final": scram_server_final,
}

ALLOWED: Dict[str, Type[BaseException]] = {
    "records": CorruptRecordError,
    "produce_response": ProtocolError,
    "metadata": ProtocolError,
    "api_versions": ProtocolError,
    "transactions": ProtocolError,
    "sasl_messages": ProtocolError,
    "scram_server_first": AuthenticationError,
    "scram_server_final": AuthenticationError,
}


def run_one(name: str, data: bytes) -> None:
    """One input: the target's typed error (with a message) is a refusal, anything
    else propagates."""
    try:
        TARGETS[name](data)
    except ALLOWED[name] as exc:
        if not str(exc):
            raise Finding(f"{type(exc).__name__} without a message") from exc
