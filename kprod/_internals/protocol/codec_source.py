"""The codec half of the generator (:mod:`.generate`): the straight-line encoder and
decoder source of one message version, written into a shared module text with its
functions and ``struct.Struct`` constants de-duplicated, and the field helpers both
halves use (defaults, nullability, fixed widths)."""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any, Dict, List, Sequence, Tuple

from . import primitives as P
from .schema import _MISSING, Field, Message, Versions, snake

if TYPE_CHECKING:
    from .generate import _ClassSpec


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


def _by_kind(fields: Sequence[Field], version: int) -> Tuple[List[Field], List[Field]]:
    """The fields present in ``version``: the regular ones in order, the tagged ones
    (KIP-482) by tag."""
    present = [f for f in fields if f.present(version)]
    return ([f for f in present if not f.tagged(version)],
            sorted((f for f in present if f.tagged(version)), key=lambda f: f.tag or 0))


def _fixed_run(fields: List[Field], i: int) -> Tuple[List[Field], str]:
    """The fixed-width fields from ``fields[i]`` on, and their one struct format."""
    run = [fields[i]]
    while i + len(run) < len(fields) and _is_fixed(fields[i + len(run)].type):
        run.append(fields[i + len(run)])
    return run, ">" + "".join(P.FIXED_FORMATS[r.type] for r in run)


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
        regular, tagged = _by_kind(fields, v)
        L = ["def {name}(o, buf, chunks):"]
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run, fmt = _fixed_run(regular, i)
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
        if t in ("string", "bytes"):
            # write_[compact_][nullable_]string / ..._bytes (primitives.py)
            w = f"write_{'compact_' if flex else ''}{'nullable_' if nullable else ''}{t}"
            self.helper(w)
            if nullable:
                return [f"{sp}{w}(buf, {var})"]
            d = _literal(f.default_value()) if t == "string" else "b''"
            return [f"{sp}{w}(buf, {var} if {var} is not None else {d})"]
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
        regular, tagged = _by_kind(fields, v)
        i = 0
        while i < len(regular):
            f = regular[i]
            self.check_field(f)
            if _is_fixed(f.type):
                run, fmt = _fixed_run(regular, i)
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
