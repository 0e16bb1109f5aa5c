"""Hypothesis strategies that build valid message bodies from kprod's schemas."""
from __future__ import annotations

from hypothesis import strategies as st

from kprod._internals.protocol.schema import Field, Message

_INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1), "int16": (-(1 << 15), (1 << 15) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1),
    "uint16": (0, (1 << 16) - 1), "uint32": (0, (1 << 32) - 1),
}


def _primitive(t: str, flexible: bool) -> st.SearchStrategy:
    if t in _INT_RANGES:
        lo, hi = _INT_RANGES[t]
        return st.integers(lo, hi)
    if t == "bool":
        return st.booleans()
    if t == "float64":
        return st.floats(allow_nan=False)
    if t == "string":
        return st.text(max_size=12)
    if t in ("bytes", "records"):
        return st.binary(max_size=40)
    if t == "uuid":
        return st.uuids()
    raise AssertionError(t)


def field_value(f: Field, version: int, flexible: bool, depth: int = 0) -> st.SearchStrategy:
    if not f.present(version):
        return st.builds(f.default_value)
    if f.is_array:
        if f.is_struct:
            elem = struct_value(f.fields, version, flexible, depth + 1)
        else:
            elem = _primitive(f.elem_type, flexible)
        s = st.lists(elem, max_size=3 if depth < 2 else 2)
    elif f.is_struct:
        s = struct_value(f.fields, version, flexible, depth + 1)
    else:
        s = _primitive(f.type, flexible)
    if f.nullable(version):
        s = st.none() | s
    return s


def struct_value(fields, version: int, flexible: bool, depth: int = 0) -> st.SearchStrategy:
    return st.fixed_dictionaries({f.key: field_value(f, version, flexible, depth) for f in fields})


def body(msg: Message, version: int) -> st.SearchStrategy:
    """A typed body (``types.<msg.name>``) with valid values for ``version``."""
    cls = message_class(msg)
    return struct_value(msg.fields, version, msg.is_flexible(version)).map(cls.from_dict)


def message_class(msg: Message) -> type:
    from kprod._internals.protocol import types

    return getattr(types, msg.name)


def default_body(msg: Message):
    return message_class(msg)()


def normalize(value):
    """Decoded records come back as memoryviews; compare them as bytes (typed
    bodies become dicts)."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    return value


def all_versions(which: str = "valid"):
    """(api, version) pairs over every schema version (``valid``) or kprod's
    supported range (``supported``)."""
    from kprod._internals.protocol import APIS

    out = []
    for api in APIS:
        lo, hi = (api.request.valid.lo, api.request.valid.hi) if which == "valid" else api.supported
        out.extend((api, v) for v in range(lo, hi + 1))
    return out


def ids(pairs):
    return [f"{api.name}-v{v}" for api, v in pairs]
