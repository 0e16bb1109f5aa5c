"""Compile a message schema into a specialised encoder/decoder per version.

For one ``(message, version)`` this module writes Python source text with one
function per struct (straight-line code: no per-field dispatch on types or
versions at run time), ``exec``s it once and returns a :class:`Codec`.
Consecutive fixed-width fields share one ``struct.Struct`` call.

Encoders: ``enc(body: dict, buf: bytearray, chunks: list) -> bytearray``
append to ``buf``; a ``records`` field puts its batches into ``chunks``
unchanged and continues in a new bytearray (returned).

Decoders: ``dec(data: memoryview, pos, end) -> (dict, pos)``; every read is
checked against ``end`` and failures raise ProtocolError naming the field.
Decoded dicts carry every field of the schema: fields absent from the version
(or tagged fields not sent) get their defaults.

Tagged fields (KIP-482): written only when their encoding differs from the
default's; unknown tags are skipped on read.
"""
from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

from kprod.errors import ProtocolError

from . import primitives as P
from .schema import _MISSING, Field, Message, Versions

_HELPERS: Dict[str, Any] = {
    "_ProtocolError": ProtocolError,
    "_I32": P.INT32,
    "_uv": P.uvarint_bytes,
    "_spack": struct.pack,
    "_sunpack": struct.unpack_from,
    "_UUID": uuid.UUID,
    "_ws": P.write_string, "_wns": P.write_nullable_string,
    "_wcs": P.write_compact_string, "_wncs": P.write_compact_nullable_string,
    "_wb": P.write_bytes, "_wnb": P.write_nullable_bytes,
    "_wcb": P.write_compact_bytes, "_wncb": P.write_compact_nullable_bytes,
    "_wrec": P.write_records, "_wnull": P.write_null_array,
    "_rs": P.read_string, "_rcs": P.read_compact_string, "_rb": P.read_bytes,
    "_ral": P.read_array_len, "_ruv": P.read_uvarint, "_ruuid": P.read_uuid,
    "_skip_tags": P.skip_tagged_fields, "_trunc": P.truncated, "_fail": P.fail,
}


def _write_tags(buf: bytearray, tags: List[Tuple[int, bytes]]) -> None:
    buf += P.uvarint_bytes(len(tags))
    for tag, data in tags:
        buf += P.uvarint_bytes(tag)
        buf += P.uvarint_bytes(len(data))
        buf += data


def _fixed_truncated(where: str, names: Tuple[str, ...], sizes: Tuple[int, ...],
                     p: int, e: int) -> ProtocolError:
    """Name the first field of a fixed-width run that does not fit."""
    off = p
    for name, size in zip(names, sizes):
        if off + size > e:
            return P.truncated(f"{where}{name}", size, off, e)
        off += size
    return P.truncated(where.rstrip("."), sum(sizes), p, e)  # pragma: no cover


_HELPERS["_wtags"] = _write_tags
_HELPERS["_tfix"] = _fixed_truncated


@dataclass(frozen=True)
class Codec:
    """Compiled codec for one (message, version)."""

    message: Message
    version: int
    flexible: bool
    encode: Callable[[dict, bytearray, list], bytearray]
    decode: Callable[[memoryview, int, int], Tuple[dict, int]]
    source: str
    response_header_version: int = 0  # for response codecs (see headers.py)


def _elem_field(f: Field) -> Field:
    """The element of a primitive array as a (non-nullable, untagged) field."""
    return Field(f.name, f.elem_type, f.versions, Versions(0, -1), Versions(0, -1), None,
                 _MISSING, (), f.key)


def _is_fixed(t: str) -> bool:
    return t in P.FIXED_FORMATS


class _Gen:
    def __init__(self, msg: Message, version: int) -> None:
        self.msg = msg
        self.v = version
        self.flex = msg.is_flexible(version)
        self.ns: Dict[str, Any] = dict(_HELPERS)
        self.blocks: List[str] = []
        self.late: List[Callable[[], None]] = []  # run after exec (tag defaults)
        self.n = 0
        self.prefix = f"{msg.name} v{version}: "

    # ------------------------------------------------------------ utilities
    def uid(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def const(self, value: Any, stem: str = "_k") -> str:
        name = self.uid(stem)
        self.ns[name] = value
        return name

    def literal(self, value: Any) -> str:
        """Source text for an immutable default value."""
        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return repr(value)
        return self.const(value)

    def default_expr(self, f: Field) -> str:
        """Source text producing ``f``'s default (fresh for lists/dicts)."""
        if f.is_struct and not f.is_array:  # inline dict literal: cheap per decode
            inner = ", ".join(f"{sub.key!r}: {self.default_expr(sub)}" for sub in f.fields)
            return "{" + inner + "}"
        d = f.default_value()
        if isinstance(d, list):
            return "[]"
        return self.literal(d)

    def min_size(self, t: str, fields: Sequence[Field]) -> int:
        """Smallest encoding of one value of type ``t`` (bounds array counts)."""
        if _is_fixed(t):
            return P.FIXED_SIZES[t]
        if t.startswith("[]") or t in ("bytes", "records"):
            return 1 if self.flex else 4
        if t == "string":
            return 1 if self.flex else 2
        total = 1 if self.flex else 0  # struct: its fields plus the tag section
        for f in fields:
            if f.present(self.v) and not f.tagged(self.v):
                total += self.min_size(f.type, f.fields)
        return total

    def check_field(self, f: Field) -> None:
        if f.is_struct and not f.is_array and not f.nullable_versions.empty:
            raise NotImplementedError(f"{self.msg.name}.{f.name}: nullable structs")
        if f.is_array and f.elem_type == "records":
            raise NotImplementedError(f"{f.name}: arrays of records")

    # -------------------------------------------------------------- encoder
    def enc_struct(self, fields: Sequence[Field], path: str) -> str:
        fname = self.uid("_enc")
        v = self.v
        present = [f for f in fields if f.present(v)]
        regular = [f for f in present if not f.tagged(v)]
        tagged = sorted((f for f in present if f.tagged(v)), key=lambda f: f.tag)
        L = [f"def {fname}(o, buf, chunks):", "    g = o.get"]
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run = [f]
                while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)].type):
                    run.append(regular[i + len(run)])
                fmt = ">" + "".join(P.FIXED_FORMATS[r.type] for r in run)
                s = self.const(struct.Struct(fmt), "_S")
                args = ", ".join(self.fixed_arg(r) for r in run)
                L.append(f"    buf += {s}.pack({args})")
                i += len(run)
                continue
            L.append(f"    x = g({f.key!r}, None)")
            L.extend(self.enc_value(f, "x", 1, path + f.name))
            i += 1
        if self.flex:
            if not tagged:
                L.append("    buf.append(0)")
            else:
                L.append("    tg = []")
                for f in tagged:
                    self.check_field(f)
                    raw = self.enc_tag_raw(f, path + f.name)
                    dflt = self.uid("_tdef")
                    self.late.append(lambda raw=raw, dflt=dflt, f=f:
                                     self.ns.__setitem__(dflt, self.ns[raw](f.default_value())))
                    L.append(f"    t = {raw}(g({f.key!r}, None))")
                    L.append(f"    if t != {dflt}: tg.append(({f.tag}, t))")
                L.append("    if tg: _wtags(buf, tg)")
                L.append("    else: buf.append(0)")
        L.append("    return buf")
        self.blocks.append("\n".join(L))
        return fname

    def fixed_arg(self, f: Field) -> str:
        d = self.literal(f.default_value())
        if f.type == "uuid":
            return f"g({f.key!r}, {d}).bytes"
        return f"g({f.key!r}, {d})"

    def enc_tag_raw(self, f: Field, where: str) -> str:
        fname = self.uid("_tagenc")
        L = [f"def {fname}(x):", "    buf = bytearray()", "    chunks = None"]
        L.extend(self.enc_value(f, "x", 1, where))
        L.append("    return bytes(buf)")
        self.blocks.append("\n".join(L))
        return fname

    def enc_value(self, f: Field, var: str, ind: int, where: str) -> List[str]:
        """Lines writing ``var`` (which may be None = missing) for field ``f``."""
        sp = "    " * ind
        t, flex, nullable = f.type, self.flex, f.nullable(self.v)
        if _is_fixed(t):
            s = self.const(struct.Struct(">" + P.FIXED_FORMATS[t]), "_S")
            d = self.literal(f.default_value())
            val = f"({var} if {var} is not None else {d})"
            return [f"{sp}buf += {s}.pack({val}{'.bytes' if t == 'uuid' else ''})"]
        if t == "string":
            w = ("_wncs" if nullable else "_wcs") if flex else ("_wns" if nullable else "_ws")
            if nullable:
                return [f"{sp}{w}(buf, {var})"]
            return [f"{sp}{w}(buf, {var} if {var} is not None else {self.literal(f.default_value())})"]
        if t == "bytes":
            w = ("_wncb" if nullable else "_wcb") if flex else ("_wnb" if nullable else "_wb")
            if nullable:
                return [f"{sp}{w}(buf, {var})"]
            return [f"{sp}{w}(buf, {var} if {var} is not None else b'')"]
        if t == "records":
            return [f"{sp}buf = _wrec(buf, chunks, {var}, {flex})"]
        if f.is_array:
            L = [f"{sp}if {var} is None:"]
            if nullable:
                L.append(f"{sp}    _wnull(buf, {flex})")
            else:
                L.append(f"{sp}    buf.append(1)" if flex else f"{sp}    buf += b'\\x00\\x00\\x00\\x00'")
            L.append(f"{sp}else:")
            L.append(f"{sp}    buf += _uv(len({var}) + 1)" if flex else f"{sp}    buf += _I32.pack(len({var}))")
            et = f.elem_type
            if _is_fixed(et) and et != "uuid":
                L.append(f"{sp}    buf += _spack('>%d{P.FIXED_FORMATS[et]}' % len({var}), *{var})")
                return L
            ev = self.uid("e")
            L.append(f"{sp}    for {ev} in {var}:")
            if f.is_struct:
                sub = self.enc_struct(f.fields, where + "[].")
                L.append(f"{sp}        buf = {sub}({ev}, buf, chunks)")
            else:
                elem = _elem_field(f)
                L.extend(self.enc_value(elem, ev, ind + 2, where + "[]"))
            return L
        # struct
        sub = self.enc_struct(f.fields, where + ".")
        dflt = self.const(f.default_value(), "_sdef")
        return [f"{sp}buf = {sub}({var} if {var} is not None else {dflt}, buf, chunks)"]

    # -------------------------------------------------------------- decoder
    def dec_struct(self, fields: Sequence[Field], path: str) -> str:
        fname = self.uid("_dec")
        v = self.v
        L = [f"def {fname}(d, p, e):"]
        names: Dict[str, str] = {}  # key -> local var
        regular = [f for f in fields if f.present(v) and not f.tagged(v)]
        tagged = sorted((f for f in fields if f.present(v) and f.tagged(v)), key=lambda f: f.tag)
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run = [f]
                while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)].type):
                    run.append(regular[i + len(run)])
                fmt = ">" + "".join(P.FIXED_FORMATS[r.type] for r in run)
                s = struct.Struct(fmt)
                sn = self.const(s, "_S")
                vars_ = [self.uid("v") for _ in run]
                for r, var in zip(run, vars_):
                    names[r.key] = var
                nm = self.const(tuple(r.name for r in run), "_nm")
                sz = self.const(tuple(P.FIXED_SIZES[r.type] for r in run), "_sz")
                L.append(f"    if p + {s.size} > e: raise _tfix({self.prefix + path!r}, {nm}, {sz}, p, e)")
                L.append(f"    {', '.join(vars_)}, = {sn}.unpack_from(d, p)")
                L.append(f"    p += {s.size}")
                for r, var in zip(run, vars_):
                    if r.type == "uuid":
                        L.append(f"    {var} = _UUID(bytes={var})")
                i += len(run)
                continue
            var = self.uid("v")
            names[f.key] = var
            L.extend(self.dec_value(f, var, 1, path + f.name))
            i += 1
        if self.flex:
            w = self.prefix + path + "<tagged fields>"
            if not tagged:
                # fast path: the usual empty tag section is a single 0 byte
                L.append("    if p < e and d[p] == 0: p += 1")
                L.append(f"    else: p = _skip_tags(d, p, e, {w!r})")
            else:
                for f in tagged:
                    self.check_field(f)
                    var = self.uid("v")
                    names[f.key] = var
                    L.append(f"    {var} = {self.default_expr(f)}")
                L.append(f"    nt, p = _ruv(d, p, e, {w!r})")
                L.append(f"    if nt * 2 > e - p: raise _fail({w!r}, 'too many tagged fields')")
                L.append("    for _ in range(nt):")
                L.append(f"        tag, p = _ruv(d, p, e, {w!r})")
                L.append(f"        sz, p = _ruv(d, p, e, {w!r})")
                L.append(f"        if p + sz > e: raise _trunc({w!r}, sz, p, e)")
                kw = "if"
                for f in tagged:
                    sub = self.dec_tag(f, path + f.name)
                    L.append(f"        {kw} tag == {f.tag}: {names[f.key]} = {sub}(d, p, p + sz)")
                    kw = "elif"
                L.append("        p += sz")
        items = []
        for f in fields:
            items.append(f"{f.key!r}: {names[f.key] if f.key in names else self.default_expr(f)}")
        L.append(f"    return {{{', '.join(items)}}}, p")
        self.blocks.append("\n".join(L))
        return fname

    def dec_tag(self, f: Field, where: str) -> str:
        fname = self.uid("_tagdec")
        L = [f"def {fname}(d, p, e):"]
        L.extend(self.dec_value(f, "x", 1, where))
        L.append("    return x")
        self.blocks.append("\n".join(L))
        return fname

    def dec_value(self, f: Field, var: str, ind: int, where: str) -> List[str]:
        sp = "    " * ind
        w = repr(self.prefix + where)
        t, flex, nullable = f.type, self.flex, f.nullable(self.v)
        if _is_fixed(t):
            if t == "uuid":
                return [f"{sp}{var}, p = _ruuid(d, p, e, {w})"]
            s = struct.Struct(">" + P.FIXED_FORMATS[t])
            sn = self.const(s, "_S")
            return [f"{sp}if p + {s.size} > e: raise _trunc({w}, {s.size}, p, e)",
                    f"{sp}{var}, = {sn}.unpack_from(d, p)", f"{sp}p += {s.size}"]
        if t == "string":
            return [f"{sp}{var}, p = {'_rcs' if flex else '_rs'}(d, p, e, {w}, {nullable})"]
        if t in ("bytes", "records"):
            return [f"{sp}{var}, p = _rb(d, p, e, {w}, {nullable}, {flex}, {t == 'records'})"]
        if f.is_array:
            et = f.elem_type
            n = self.uid("n")
            L = [f"{sp}{n}, p = _ral(d, p, e, {w}, {nullable}, {flex}, "
                 f"{max(1, self.min_size(et, f.fields))})",
                 f"{sp}if {n} < 0:", f"{sp}    {var} = None", f"{sp}else:"]
            if _is_fixed(et) and et != "uuid":
                size = P.FIXED_SIZES[et]
                L.append(f"{sp}    {var} = list(_sunpack('>%d{P.FIXED_FORMATS[et]}' % {n}, d, p))")
                L.append(f"{sp}    p += {n} * {size}")
                return L
            L.append(f"{sp}    {var} = []")
            L.append(f"{sp}    for _ in range({n}):")
            ev = self.uid("e")
            if f.is_struct:
                sub = self.dec_struct(f.fields, where + "[].")
                L.append(f"{sp}        {ev}, p = {sub}(d, p, e)")
            else:
                elem = _elem_field(f)
                L.extend(self.dec_value(elem, ev, ind + 2, where + "[]"))
            L.append(f"{sp}        {var}.append({ev})")
            return L
        sub = self.dec_struct(f.fields, where + ".")
        return [f"{sp}{var}, p = {sub}(d, p, e)"]


def compile_codec(msg: Message, version: int, response_header_version: int = 0) -> Codec:
    """Build the codec for ``msg`` at ``version`` (callers cache it)."""
    if version not in msg.valid:
        raise ValueError(f"{msg.name} has no version {version} (valid: {msg.valid})")
    g = _Gen(msg, version)
    enc = g.enc_struct(msg.fields, "")
    dec = g.dec_struct(msg.fields, "")
    source = "\n\n".join(g.blocks) + "\n"
    code = compile(source, f"<kprod {msg.name} v{version}>", "exec")
    exec(code, g.ns)  # noqa: S102 - text generated above from our own schemas
    for fn in g.late:
        fn()
    return Codec(msg, version, g.flex, g.ns[enc], g.ns[dec], source, response_header_version)
