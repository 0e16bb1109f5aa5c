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

This module writes the classes and the files; :mod:`.codec_source` the codecs.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from . import primitives as P
from .codec_source import _Gen, _Module, _ever_nullable, _literal
from .messages import APIS, Api
from .schema import Field, Message, snake

PACKAGE_DIR = Path(__file__).resolve().parent
GENERATED_DIR = PACKAGE_DIR / "generated"
_COMMAND = "python -m kprod._internals.protocol.generate"

_TYPE_HINTS = {"int8": "int", "int16": "int", "int32": "int", "int64": "int", "uint16": "int",
               "uint32": "int", "float64": "float", "bool": "bool", "string": "str",
               "bytes": "bytes", "records": "Any", "uuid": "UUID"}


def module_name(api: Api) -> str:
    """``AddPartitionsToTxn`` -> ``add_partitions_to_txn`` (as the schema modules)."""
    return snake(api.name)


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
