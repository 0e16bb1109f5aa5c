"""Seed inputs for the fuzz targets, made by kprod's own encoders.

``python -m tests.fuzz.seeds`` (re)writes tests/fuzz/corpus/<target>/seed-*; each seed is
a valid input of its target (tests/fuzz/test_regressions.py checks that every corpus file
is accepted or refused with the target's typed error). Deterministic: the same bytes on
every run.
"""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

CORPUS = Path(__file__).resolve().parent / "corpus"

_INTS = {"int8": 7, "int16": 3, "int32": 123456, "int64": 1 << 40, "uint16": 9092,
         "uint32": 70000}


def _primitive(t: str, i: int) -> Any:
    if t in _INTS:
        return _INTS[t] + i
    if t == "bool":
        return bool(i % 2)
    if t == "float64":
        return 1.5
    if t == "string":
        return f"name-{i}"
    if t in ("bytes", "records"):
        return bytes(range(i, i + 5))
    if t == "uuid":
        return uuid.UUID(int=0x1234 + i)
    raise AssertionError(t)


def _fill(fields, version: int, depth: int = 0) -> Dict[str, Any]:
    """A body with every field present in ``version`` set: two elements per array (one
    at depth 2), distinct small values."""
    out: Dict[str, Any] = {}
    for n, f in enumerate(fields):
        if not f.present(version):
            continue
        if f.is_array:
            count = 2 if depth < 2 else 1
            if f.is_struct:
                out[f.key] = [_fill(f.fields, version, depth + 1) for _ in range(count)]
            else:
                out[f.key] = [_primitive(f.elem_type, n + k) for k in range(count)]
        elif f.is_struct:
            out[f.key] = _fill(f.fields, version, depth + 1)
        else:
            out[f.key] = _primitive(f.type, n)
    return out


def _response_frames(api: str, version: int) -> Iterator[bytes]:
    """A default body and a filled one, as response frames (correlation id 7)."""
    from kprod._internals.protocol import encode_response, types
    from kprod._internals.protocol.messages import BY_NAME

    msg = BY_NAME[api].response
    cls = getattr(types, msg.name)
    yield encode_response(api, version, 7, cls())
    yield encode_response(api, version, 7, cls.from_dict(_fill(msg.fields, version)))


def _generated_seeds(pairs: List[Tuple[str, int]]) -> Iterator[bytes]:
    for selector, (api, version) in enumerate(pairs):
        for frame in _response_frames(api, version):
            yield bytes([selector]) + frame


def _record_batches() -> Iterator[bytes]:
    from kprod._native.bufferpool import standalone_buffer
    from kprod._native.batch_builder import RecordBatchBuilder

    for codec in range(5):
        for transactional in (False, True):
            builder = RecordBatchBuilder(standalone_buffer(4096), compression=codec)
            for i in range(3):
                headers = [("h", b"v" * i)] if i else None
                builder.append(1_700_000_000_000 + i, b"k%d" % i if i % 2 else None,
                               b"value-%d" % i, headers)
            if transactional:
                builder.restamp(42, 3, 10, True)
            batch = bytes(builder.close())
            # flags: verify the CRC as stored; recompute it after mutation; partial
            for flags in ((1, 3, 4) if codec == 0 else (0, 3)):
                yield bytes([flags]) + batch
            if codec == 0 and not transactional:
                yield bytes([1]) + batch + batch     # two batches back to back


def _scram_first() -> Iterator[bytes]:
    from .targets import CLIENT_NONCE, SERVER_FIRST

    for mech in (0, 1):
        yield bytes([mech]) + SERVER_FIRST
        yield bytes([mech]) + SERVER_FIRST + b",x=extension"
        yield bytes([mech]) + b"e=unknown-user"
        yield bytes([mech]) + b"r=" + CLIENT_NONCE.encode() + b"x,s=AAAA,i=4095"


def _scram_final() -> Iterator[bytes]:
    from kprod._internals import sasl

    from .targets import CLIENT_NONCE, SERVER_FIRST, _CheapScram

    for mech_index, mech in enumerate(("SCRAM-SHA-256", "SCRAM-SHA-512")):
        m = _CheapScram(sasl.Credentials(mech, "user", "pencil"), nonce=CLIENT_NONCE)
        m.initial()
        m.step(SERVER_FIRST)
        import base64
        yield bytes([mech_index]) + b"v=" + base64.b64encode(m._server_signature)
        yield bytes([mech_index]) + b"v=" + base64.b64encode(b"\0" * len(m._server_signature))
        yield bytes([mech_index]) + b"e=invalid-proof"


def seeds() -> Dict[str, List[bytes]]:
    from . import targets as T

    return {
        "records": list(_record_batches()),
        "produce_response": list(_generated_seeds([("Produce", v)
                                                   for v in T.PRODUCE_VERSIONS])),
        "metadata": list(_generated_seeds(T.METADATA_PAIRS)),
        "api_versions": list(_generated_seeds(T.API_VERSIONS_PAIRS)),
        "transactions": list(_generated_seeds(T.TRANSACTION_PAIRS)),
        "sasl_messages": list(_generated_seeds(T.SASL_PAIRS)),
        "scram_server_first": list(_scram_first()),
        "scram_server_final": list(_scram_final()),
    }


def write() -> Dict[str, int]:
    counts = {}
    for target, inputs in seeds().items():
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("seed-*"):
            old.unlink()
        for data in inputs:
            (folder / f"seed-{hashlib.sha1(data).hexdigest()[:16]}").write_bytes(data)
        counts[target] = len(inputs)
    return counts


if __name__ == "__main__":
    for name, n in write().items():
        print(f"{name}: {n} seeds")
