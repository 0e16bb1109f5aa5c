"""Write the typed message classes and per-version codecs from the schemas.

Run ``python -m kprod._internals.protocol.generate`` after changing a schema in
``messages/``; it rewrites ``generated/<api>.py`` (one module per API),
``generated/__init__.py`` and ``types.py``. tests/protocol/test_generated_current.py
fails when the checked-in files differ from what this writes, so they never drift.
Nothing is compiled or executed at run time: the output is ordinary source.

Per API module:

* one slotted class per struct (:class:`~.structs.Struct` subclasses): the top
  level is the message name (``ProduceResponse``), nested structs take the
  spec's struct type name (``PartitionProduceResponse``). Attributes are the
  union of the struct's fields over all versions, named by ``schema.snake``.
  When a message uses one struct type name in several places (AddPartitionsToTxn
  does, for AddPartitionsToTxnTopic and AddPartitionsToTxnTopicResult), the
  places share one class whose fields are the union (by key, in first-seen
  order; a key must have the same type everywhere). A struct type name must not
  appear in two API modules, so ``types.py`` can re-export every class.
* per version an encoder ``(obj, buf, chunks) -> buf`` that reads attributes
  (a ``records`` field puts its batches into ``chunks`` unchanged and continues
  in a new bytearray) and a decoder ``(data, pos, end) -> (obj, pos)`` that
  checks every read against ``end`` and constructs the classes positionally.
  Error texts name the field path (``Responses[].PartitionResponses[].ErrorCode``);
  api.py prefixes ``<Message> v<version>: ``. Straight-line code: consecutive
  fixed-width fields share one ``struct.Struct`` call, no dispatch on types or
  versions at run time. Versions whose code is identical share one function.
* tagged fields (KIP-482): written only when their encoding differs from the
  default's (a bytes literal in the source); unknown tags are skipped on read.
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import primitives as P
from .messages import APIS, Api
from .schema import _MISSING, Field, Message, Versions, snake

PACKAGE_DIR = Path(__file__).resolve().parent
GENERATED_DIR = PACKAGE_DIR / "generated"
_COMMAND = "python -m kprod._internals.protocol.generate"

_TYPE_HINTS = {"int8": "int", "int16": "int", "int32": "int", "int64": "int", "uint16": "int",
               "uint32": "int", "float64": "float", "bool": "bool", "string": "str",
               "bytes": "bytes", "records": "Any", "uuid": "UUID"}


def module_name(api: Api) -> str:
    """``AddPartitionsToTxn`` -> ``add_partitions_to_txn`` (as the schema modules)."""
    return snake(api.name)


def _elem_field(f: Field) -> Field:
    """The element of a primitive array as a (non-nullable, untagged) field."""
    return Field(f.name, f.elem_type, f.versions, Versions(0, -1), Versions(0, -1), None,
                 _MISSING, (), f.key)


def _is_fixed(t: str) -> bool:
    return t in P.FIXED_FORMATS


def _ever_nullable(f: Field) -> bool:
    return not f.nullable_versions.empty


def _literal(value: Any) -> str:
    """Source text of an immutable default."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if value == P.ZERO_UUID:
        return "ZERO_UUID"
    raise NotImplementedError(f"no source literal for default {value!r}")


# ------------------------------------------------------------------ default encodings
def _uv(n: int) -> bytes:
    return P.uvarint_bytes(n)


def encode_default(f: Field, version: int) -> bytes:
    """Flexible-version encoding of ``f``'s default (to skip default tagged fields)."""
    d = f.default_value()
    t = f.type
    if f.is_array:
        return b"\x00" if d is None else b"\x01"
    if f.is_struct:
        out = b""
        for sub in f.fields:
            if sub.present(version) and not sub.tagged(version):
                out += encode_default(sub, version)
        return out + b"\x00"  # the struct's own (empty) tagged-field section
    if _is_fixed(t):
        return struct.pack(">" + P.FIXED_FORMATS[t], d.bytes if t == "uuid" else d)
    if t == "string":
        if d is None:
            return b"\x00"
        b = d.encode("utf-8")
        return _uv(len(b) + 1) + b
    if t in ("bytes", "records"):
        return b"\x00" if d is None else _uv(len(d) + 1) + bytes(d)
    raise NotImplementedError(t)  # pragma: no cover


# ---------------------------------------------------------------------- classes
class _ClassSpec:
    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: Dict[str, Field] = {}   # key -> first-seen field
        self.nullable: Dict[str, bool] = {}  # key -> nullable in any version/place

    def add(self, fields: Sequence[Field]) -> None:
        for f in fields:
            seen = self.fields.get(f.key)
            if seen is None:
                self.fields[f.key] = f
                self.nullable[f.key] = _ever_nullable(f)
                continue
            if seen.type != f.type or repr(seen.default_value()) != repr(f.default_value()):
                raise ValueError(f"{self.name}.{f.name}: type or default differs between uses")
            self.nullable[f.key] = self.nullable[f.key] or _ever_nullable(f)


def _collect(msg: Message, specs: Dict[str, _ClassSpec], order: List[str]) -> None:
    def walk(name: str, fields: Sequence[Field]) -> None:
        for f in fields:
            if f.is_struct:
                walk(f.elem_type, f.fields)
        spec = specs.get(name)
        if spec is None:
            spec = specs[name] = _ClassSpec(name)
            order.append(name)
        spec.add(fields)
    walk(msg.name, msg.fields)


def _hint(f: Field, nullable: bool) -> str:
    if f.is_array:
        inner = f.elem_type if f.is_struct else _TYPE_HINTS[f.elem_type]
        hint = f"List[{inner}]"
    elif f.is_struct:
        hint = f.elem_type
    else:
        hint = _TYPE_HINTS[f.type]
    if (nullable or f.type == "records") and hint != "Any":
        hint = f"Optional[{hint}]"
    return hint


def _class_source(spec: _ClassSpec, doc: str) -> str:
    fields = list(spec.fields.values())
    L = [f"class {spec.name}(Struct):", f'    """{doc}"""', ""]
    L.append("    __slots__ = (" + "".join(f"{f.key!r}, " for f in fields).rstrip(" ") + ")")
    nested = [f for f in fields if f.is_struct]
    if nested:
        L.append("    _nested_types = {" + ", ".join(f"{f.key!r}: {f.elem_type}" for f in nested)
                 + "}")
    L.append("")
    for f in fields:
        L.append(f"    {f.key}: {_hint(f, spec.nullable[f.key])}")
    L.append("")
    params, body = [], []
    for f in fields:
        hint = _hint(f, spec.nullable[f.key])
        d = f.default_value()
        if f.is_array and d is not None:
            if spec.nullable[f.key]:
                params.append(f"{f.key}: {hint} = FRESH")
                body.append(f"self.{f.key} = [] if {f.key} is FRESH else {f.key}")
            else:
                params.append(f"{f.key}: Optional[{hint}] = None")
                body.append(f"self.{f.key} = [] if {f.key} is None else {f.key}")
        elif f.is_struct and not f.is_array:
            params.append(f"{f.key}: Optional[{hint}] = None")
            body.append(f"self.{f.key} = {f.elem_type}() if {f.key} is None else {f.key}")
        else:
            params.append(f"{f.key}: {hint} = {_literal(d)}")
            body.append(f"self.{f.key} = {f.key}")
    if params:
        L.append("    def __init__(self, " + ", ".join(params) + ") -> None:")
        L.extend("        " + b for b in body)
    else:
        L.append("    def __init__(self) -> None:")
        L.append("        pass")
    return "\n".join(_wrap(line) for line in L)


def _wrap(line: str, width: int = 100) -> str:
    """Break a long ``def``/``__slots__`` line after commas (keeps the output readable)."""
    if len(line) <= width or ("def " not in line and "__slots__" not in line
                              and "_nested_types" not in line):
        return line
    indent = len(line) - len(line.lstrip()) + 8
    out, cur = [], ""
    for part in line.split(", "):
        piece = part if not cur else cur + ", " + part
        if len(piece) > width and cur:
            out.append(cur + ",")
            cur = " " * indent + part
        else:
            cur = piece
    out.append(cur)
    return "\n".join(out)


# ------------------------------------------------------------------------ codecs
class _Module:
    """Functions and constants of one generated module, de-duplicated by text."""

    def __init__(self) -> None:
        self.functions: List[str] = []
        self.by_text: Dict[str, str] = {}   # body text (name placeholder) -> name
        self.names: set = set()
        self.structs: Dict[str, str] = {}   # format -> constant name
        self.helpers: set = set()

    def struct_const(self, fmt: str) -> str:
        name = self.structs.get(fmt)
        if name is None:
            name = "_STRUCT_" + fmt[1:].replace("?", "o")
            self.structs[fmt] = name
        return name

    def add_function(self, stem: str, version: int, lines: List[str]) -> str:
        """Add ``def <name>...`` (``lines[0]`` holds ``{name}``); reuse an identical one."""
        text = "\n".join(lines)
        name = self.by_text.get(text)
        if name is not None:
            return name
        name = f"_{stem}_v{version}"
        n = 2
        while name in self.names:
            name = f"_{stem}_v{version}_{n}"
            n += 1
        self.names.add(name)
        self.by_text[text] = name
        self.functions.append(text.replace("{name}", name, 1))
        return name


class _Gen:
    """Encoder/decoder source for one (message, version) into a shared _Module."""

    def __init__(self, mod: _Module, classes: Dict[str, "_ClassSpec"], msg: Message,
                 version: int) -> None:
        self.mod = mod
        self.classes = classes
        self.msg = msg
        self.v = version
        self.flex = msg.is_flexible(version)
        self.n = 0

    def uid(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def helper(self, name: str) -> str:
        self.mod.helpers.add(name)
        return name

    def new_scope(self) -> int:
        saved, self.n = self.n, 0
        return saved

    def default_expr(self, f: Field) -> str:
        """Source producing ``f``'s default (fresh lists/objects)."""
        if f.is_struct and not f.is_array:
            return f"{f.elem_type}()"
        d = f.default_value()
        if isinstance(d, list):
            return "[]"
        return _literal(d)

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
        if f.is_struct and not f.is_array and _ever_nullable(f):
            raise NotImplementedError(f"{self.msg.name}.{f.name}: nullable structs")
        if f.is_array and f.elem_type == "records":
            raise NotImplementedError(f"{f.name}: arrays of records")

    @staticmethod
    def _stem(kind: str, type_name: str) -> str:
        return f"{kind}_{snake(type_name)}"

    # -------------------------------------------------------------- encoder
    def enc_struct(self, type_name: str, fields: Sequence[Field]) -> str:
        saved = self.new_scope()
        v = self.v
        present = [f for f in fields if f.present(v)]
        regular = [f for f in present if not f.tagged(v)]
        tagged = sorted((f for f in present if f.tagged(v)), key=lambda f: f.tag or 0)
        L = ["def {name}(o, buf, chunks):"]
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run = [f]
                while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)].type):
                    run.append(regular[i + len(run)])
                fmt = ">" + "".join(P.FIXED_FORMATS[r.type] for r in run)
                s = self.mod.struct_const(fmt)
                args = ", ".join(f"o.{r.key}.bytes" if r.type == "uuid" else f"o.{r.key}"
                                 for r in run)
                L.append(f"    buf += {s}.pack({args})")
                i += len(run)
                continue
            L.append(f"    x = o.{f.key}")
            L.extend(self.enc_value(f, "x", 1))
            i += 1
        if self.flex:
            if not tagged:
                L.append("    buf.append(0)")
            else:
                L.append("    tags = []")
                for f in tagged:
                    self.check_field(f)
                    raw = self.enc_tag(f)
                    L.append(f"    t = {raw}(o.{f.key})")
                    L.append(f"    if t != {encode_default(f, v)!r}: tags.append(({f.tag}, t))")
                L.append(f"    if tags: {self.helper('write_tagged_fields')}(buf, tags)")
                L.append("    else: buf.append(0)")
        L.append("    return buf")
        self.n = saved
        return self.mod.add_function(self._stem("encode", type_name), v, L)

    def enc_tag(self, f: Field) -> str:
        saved = self.new_scope()
        L = ["def {name}(x):", "    buf = bytearray()", "    chunks = None"]
        L.extend(self.enc_value(f, "x", 1))
        L.append("    return bytes(buf)")
        self.n = saved
        return self.mod.add_function(self._stem("encode_tag", f.name), self.v, L)

    def enc_value(self, f: Field, var: str, ind: int) -> List[str]:
        """Lines writing ``var`` for field ``f`` (None: the default, unless nullable)."""
        sp = "    " * ind
        t, flex, nullable = f.type, self.flex, f.nullable(self.v)
        if _is_fixed(t):
            s = self.mod.struct_const(">" + P.FIXED_FORMATS[t])
            return [f"{sp}buf += {s}.pack({var}{'.bytes' if t == 'uuid' else ''})"]
        if t == "string":
            w = ("write_compact_nullable_string" if nullable else "write_compact_string") \
                if flex else ("write_nullable_string" if nullable else "write_string")
            self.helper(w)
            if nullable:
                return [f"{sp}{w}(buf, {var})"]
            d = _literal(f.default_value())
            return [f"{sp}{w}(buf, {var} if {var} is not None else {d})"]
        if t == "bytes":
            w = ("write_compact_nullable_bytes" if nullable else "write_compact_bytes") \
                if flex else ("write_nullable_bytes" if nullable else "write_bytes")
            self.helper(w)
            if nullable:
                return [f"{sp}{w}(buf, {var})"]
            return [f"{sp}{w}(buf, {var} if {var} is not None else b'')"]
        if t == "records":
            return [f"{sp}buf = {self.helper('write_records')}(buf, chunks, {var}, {flex})"]
        if f.is_array:
            L = [f"{sp}if {var} is None:"]
            if nullable:
                L.append(f"{sp}    {self.helper('write_null_array')}(buf, {flex})")
            else:
                L.append(f"{sp}    buf.append(1)" if flex
                         else f"{sp}    buf += b'\\x00\\x00\\x00\\x00'")
            L.append(f"{sp}else:")
            if flex:
                L.append(f"{sp}    buf += {self.helper('uvarint_bytes')}(len({var}) + 1)")
            else:
                L.append(f"{sp}    buf += {self.helper('INT32')}.pack(len({var}))")
            et = f.elem_type
            if _is_fixed(et) and et != "uuid":
                self.helper("pack")
                L.append(f"{sp}    buf += pack(f'>{{len({var})}}{P.FIXED_FORMATS[et]}', *{var})")
                return L
            ev = self.uid("e")
            L.append(f"{sp}    for {ev} in {var}:")
            if f.is_struct:
                sub = self.enc_struct(f.elem_type, f.fields)
                L.append(f"{sp}        buf = {sub}({ev}, buf, chunks)")
            else:
                L.extend(self.enc_value(_elem_field(f), ev, ind + 2))
            return L
        sub = self.enc_struct(f.elem_type, f.fields)
        return [f"{sp}buf = {sub}({var} if {var} is not None else {f.elem_type}(), buf, chunks)"]

    # -------------------------------------------------------------- decoder
    def dec_struct(self, type_name: str, fields: Sequence[Field], path: str) -> str:
        """The decoder makes the object with ``object.__new__`` and stores each slot as
        it is read: about 40% less time per struct than calling ``__init__`` (and less
        than the dicts this replaced)."""
        saved = self.new_scope()
        v = self.v
        L = ["def {name}(d, p, e):", f"    o = new({type_name})"]
        done: set = set()
        regular = [f for f in fields if f.present(v) and not f.tagged(v)]
        tagged = sorted((f for f in fields if f.present(v) and f.tagged(v)),
                        key=lambda f: f.tag or 0)
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run = [f]
                while i + len(run) < len(regular) and _is_fixed(regular[i + len(run)].type):
                    run.append(regular[i + len(run)])
                fmt = ">" + "".join(P.FIXED_FORMATS[r.type] for r in run)
                size = struct.calcsize(fmt)
                sn = self.mod.struct_const(fmt)
                done.update(r.key for r in run)
                nm = tuple(r.name for r in run)
                sz = tuple(P.FIXED_SIZES[r.type] for r in run)
                L.append(f"    if p + {size} > e: raise {self.helper('fixed_truncated')}"
                         f"({path!r}, {nm!r}, {sz!r}, p, e)")
                L.append(f"    {', '.join('o.' + r.key for r in run)}, = {sn}.unpack_from(d, p)")
                L.append(f"    p += {size}")
                for r in run:
                    if r.type == "uuid":
                        L.append(f"    o.{r.key} = {self.helper('UUID')}(bytes=o.{r.key})")
                i += len(run)
                continue
            done.add(f.key)
            if f.is_array:
                var = self.uid("v")
                L.extend(self.dec_value(f, var, 1, path + f.name))
                L.append(f"    o.{f.key} = {var}")
            else:
                L.extend(self.dec_value(f, f"o.{f.key}", 1, path + f.name))
            i += 1
        if self.flex:
            w = path + "<tagged fields>"
            if not tagged:
                # fast path: the usual empty tag section is a single 0 byte
                L.append("    if p < e and d[p] == 0: p += 1")
                L.append(f"    else: p = {self.helper('skip_tagged_fields')}(d, p, e, {w!r})")
            else:
                for f in tagged:
                    self.check_field(f)
                    done.add(f.key)
                    L.append(f"    o.{f.key} = {self.default_expr(f)}")
                ruv = self.helper("read_uvarint")
                L.append("    if p < e and d[p] == 0: p += 1  # the usual: no tagged fields")
                L.append("    else:")
                L.append(f"        count, p = {ruv}(d, p, e, {w!r})")
                L.append(f"        if count * 2 > e - p: raise {self.helper('fail')}"
                         f"({w!r}, 'too many tagged fields')")
                L.append("        for _ in range(count):")
                L.append(f"            tag, p = {ruv}(d, p, e, {w!r})")
                L.append(f"            size, p = {ruv}(d, p, e, {w!r})")
                L.append(f"            if p + size > e: raise {self.helper('truncated')}"
                         f"({w!r}, size, p, e)")
                kw = "if"
                for f in tagged:
                    sub = self.dec_tag(f, path + f.name)
                    L.append(f"            {kw} tag == {f.tag}: o.{f.key} = {sub}(d, p, p + size)")
                    kw = "elif"
                L.append("            p += size")
        # every slot is set: fields absent from this version get their defaults
        for f in self.classes[type_name].fields.values():
            if f.key not in done:
                L.append(f"    o.{f.key} = {self.default_expr(f)}")
        L.append("    return o, p")
        self.n = saved
        return self.mod.add_function(self._stem("decode", type_name), v, L)

    def dec_tag(self, f: Field, where: str) -> str:
        saved = self.new_scope()
        L = ["def {name}(d, p, e):"]
        L.extend(self.dec_value(f, "x", 1, where))
        L.append("    return x")
        self.n = saved
        return self.mod.add_function(self._stem("decode_tag", f.name), self.v, L)

    def dec_value(self, f: Field, var: str, ind: int, where: str) -> List[str]:
        sp = "    " * ind
        w = repr(where)
        t, flex, nullable = f.type, self.flex, f.nullable(self.v)
        if _is_fixed(t):
            if t == "uuid":
                return [f"{sp}{var}, p = {self.helper('read_uuid')}(d, p, e, {w})"]
            fmt = ">" + P.FIXED_FORMATS[t]
            size = struct.calcsize(fmt)
            sn = self.mod.struct_const(fmt)
            return [f"{sp}if p + {size} > e: raise {self.helper('truncated')}({w}, {size}, p, e)",
                    f"{sp}{var}, = {sn}.unpack_from(d, p)", f"{sp}p += {size}"]
        if t == "string":
            reader = self.helper("read_compact_string" if flex else "read_string")
            if flex and nullable:  # fast path: null (error messages mostly are)
                return [f"{sp}if p < e and d[p] == 0:", f"{sp}    {var} = None",
                        f"{sp}    p += 1", f"{sp}else:",
                        f"{sp}    {var}, p = {reader}(d, p, e, {w}, True)"]
            return [f"{sp}{var}, p = {reader}(d, p, e, {w}, {nullable})"]
        if t in ("bytes", "records"):
            return [f"{sp}{var}, p = {self.helper('read_bytes')}(d, p, e, {w}, {nullable}, "
                    f"{flex}, {t == 'records'})"]
        if f.is_array:
            et = f.elem_type
            n = self.uid("n")
            least = max(1, self.min_size(et, f.fields))
            reader = (f"{self.helper('read_array_len')}(d, p, e, {w}, {nullable}, {flex}, "
                      f"{least})")
            if flex:
                # fast path: a one-byte compact length of a non-null array, whose
                # count (n) must fit in what is left (else the reader names the error)
                L = [f"{sp}if p < e and 0 < d[p] < 128 and (d[p] - 1) * {least} <= e - p - 1:",
                     f"{sp}    {n} = d[p] - 1",
                     f"{sp}    p += 1",
                     f"{sp}else:",
                     f"{sp}    {n}, p = {reader}"]
            else:
                L = [f"{sp}{n}, p = {reader}"]
            L += [f"{sp}if {n} < 0:", f"{sp}    {var} = None", f"{sp}else:"]
            if _is_fixed(et) and et != "uuid":
                size = P.FIXED_SIZES[et]
                self.helper("unpack_from")
                L.append(f"{sp}    {var} = "
                         f"list(unpack_from(f'>{{{n}}}{P.FIXED_FORMATS[et]}', d, p))")
                L.append(f"{sp}    p += {n} * {size}")
                return L
            L.append(f"{sp}    {var} = []")
            ev = self.uid("e")
            if f.is_struct:
                sub = self.dec_struct(f.elem_type, f.fields, where + "[].")
                L.append(f"{sp}    append = {var}.append")
                L.append(f"{sp}    for _ in range({n}):")
                L.append(f"{sp}        {ev}, p = {sub}(d, p, e)")
                L.append(f"{sp}        append({ev})")
            else:
                L.append(f"{sp}    for _ in range({n}):")
                L.extend(self.dec_value(_elem_field(f), ev, ind + 2, where + "[]"))
                L.append(f"{sp}        {var}.append({ev})")
            return L
        sub = self.dec_struct(f.elem_type, f.fields, where + ".")
        return [f"{sp}{var}, p = {sub}(d, p, e)"]


# ------------------------------------------------------------------------ modules
_PRIMITIVE_HELPERS = ("INT32", "ZERO_UUID", "fail", "fixed_truncated", "read_array_len",
                      "read_bytes", "read_compact_string", "read_string", "read_uuid",
                      "read_uvarint", "skip_tagged_fields", "truncated", "uvarint_bytes",
                      "write_bytes", "write_compact_bytes", "write_compact_nullable_bytes",
                      "write_compact_nullable_string", "write_compact_string",
                      "write_null_array", "write_nullable_bytes", "write_nullable_string",
                      "write_records", "write_string", "write_tagged_fields")


def _schema_path(api: Api) -> str:
    return f"kprod/_internals/protocol/messages/{module_name(api)}.py"


def api_module_source(api: Api) -> Tuple[str, List[str]]:
    """Source of ``generated/<api>.py`` and the class names it defines."""
    specs: Dict[str, _ClassSpec] = {}
    order: List[str] = []
    _collect(api.request, specs, order)
    _collect(api.response, specs, order)
    mod = _Module()
    tables: Dict[str, Dict[int, str]] = {}
    for kind, msg in (("request", api.request), ("response", api.response)):
        enc: Dict[int, str] = {}
        dec: Dict[int, str] = {}
        assert msg.valid.hi is not None        # every message kprod speaks is bounded
        for v in range(msg.valid.lo, msg.valid.hi + 1):
            enc[v] = _Gen(mod, specs, msg, v).enc_struct(msg.name, msg.fields)
            dec[v] = _Gen(mod, specs, msg, v).dec_struct(msg.name, msg.fields, "")
        tables[f"ENCODE_{kind.upper()}"] = enc
        tables[f"DECODE_{kind.upper()}"] = dec
    for name in order:
        for f in specs[name].fields.values():
            if not f.is_array and not f.is_struct and f.default_value() == P.ZERO_UUID \
                    and f.type == "uuid":
                mod.helpers.add("ZERO_UUID")
        if any(f.type == "uuid" or f.elem_type == "uuid" for f in specs[name].fields.values()):
            mod.helpers.add("UUID")

    typing_names = ["Any", "List", "Optional"]
    prims = sorted(h for h in mod.helpers if h in _PRIMITIVE_HELPERS)
    std_struct = sorted(h for h in mod.helpers if h in ("pack", "unpack_from"))
    out = [f'"""{api.name} (API key {api.key}): message classes and codecs of versions '
           f"{api.request.valid}.",
           "",
           f"Generated by ``{_COMMAND}`` from",
           f'{_schema_path(api)}; do not edit."""',
           "# flake8: noqa",
           "from __future__ import annotations",
           "",
           "import struct",
           ]
    if std_struct:
        out.append(f"from struct import {', '.join(std_struct)}")
    out.append(f"from typing import {', '.join(typing_names)}")
    if "UUID" in mod.helpers:
        out.append("from uuid import UUID")
    out.append("")
    if prims:
        out.append(_wrap_import("from ..primitives import ", prims))
    out.append("from ..structs import FRESH, Struct")
    out.append("")
    out.append("")
    body: List[str] = []
    for name in order:
        spec = specs[name]
        where = f"{api.name} message" if name in (api.request.name, api.response.name) \
            else f"struct of {api.name}"
        body.append(_class_source(spec, f"{name} ({where})."))
    out.append("\n\n\n".join(body))
    out.append("")
    out.append("")
    out.append("new = object.__new__")
    for fmt, const in sorted(mod.structs.items(), key=lambda kv: kv[1]):
        out.append(f"{const} = struct.Struct({fmt!r})")
    out.append("")
    out.append("")
    out.append("\n\n\n".join(mod.functions))
    out.append("")
    out.append("")
    out.append(f"REQUEST_CLASS = {api.request.name}")
    out.append(f"RESPONSE_CLASS = {api.response.name}")
    for table, entries in tables.items():
        out.append(f"{table} = {{")
        for v, fn in entries.items():
            out.append(f"    {v}: {fn},")
        out.append("}")
    return "\n".join(out) + "\n", order


def _wrap_import(head: str, names: Sequence[str], width: int = 100) -> str:
    lines, cur = [], head + "("
    for n in names:
        piece = f"{n}, "
        if len(cur) + len(piece) > width:
            lines.append(cur.rstrip())
            cur = " " * (len(head) + 1)
        cur += piece
    lines.append(cur.rstrip(", ") + ")")
    return "\n".join(lines)


def generated_files() -> Dict[Path, str]:
    """Every generated file's path and text (nothing is written)."""
    files: Dict[Path, str] = {}
    owner: Dict[str, str] = {}
    all_classes: List[Tuple[str, str]] = []
    for api in APIS:
        text, classes = api_module_source(api)
        for cls in classes:
            if cls in owner:
                raise ValueError(f"struct {cls} is defined by both {owner[cls]} and {api.name}")
            owner[cls] = api.name
            all_classes.append((module_name(api), cls))
        files[GENERATED_DIR / f"{module_name(api)}.py"] = text
    header = f'Generated by ``{_COMMAND}``; do not edit.'
    init = [f'"""Per-API message classes and codecs, by API key.\n\n{header}"""',
            "from __future__ import annotations", "",
            _wrap_import("from . import ", sorted(module_name(a) for a in APIS)), "",
            "MODULES = {"]
    init.extend(f"    {api.key}: {module_name(api)},  # {api.name}" for api in APIS)
    init.append("}")
    files[GENERATED_DIR / "__init__.py"] = "\n".join(init) + "\n"
    types = ['"""Every message class, from one place::',
             "",
             "    from kprod._internals.protocol import types",
             "    request = types.MetadataRequest(topics=[types.MetadataRequestTopic(name=\"t\")])",
             "",
             "Top-level classes are ``<Api>Request`` / ``<Api>Response``; nested structs carry",
             "the spec's struct type name.",
             header + '"""',
             "from __future__ import annotations", ""]
    by_module: Dict[str, List[str]] = {}
    for module, cls in all_classes:
        by_module.setdefault(module, []).append(cls)
    for module in sorted(by_module):
        types.append(_wrap_import(f"from .generated.{module} import ", sorted(by_module[module])))
    types.append("from .headers import RequestHeader")
    types.append("")
    names = sorted([c for _, c in all_classes] + ["RequestHeader"])
    types.append("__all__ = [")
    line = "   "
    for n in names:
        piece = f" {n!r},"
        if len(line) + len(piece) > 96:
            types.append(line)
            line = "   "
        line += piece
    types.append(line)
    types.append("]")
    files[PACKAGE_DIR / "types.py"] = "\n".join(types) + "\n"
    return files


def main(argv: Optional[Sequence[str]] = None) -> int:
    GENERATED_DIR.mkdir(exist_ok=True)
    total = 0
    for path, text in generated_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(PACKAGE_DIR.parents[2])}")
        total += len(text.encode("utf-8"))
    print(f"{total} bytes of generated source")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
