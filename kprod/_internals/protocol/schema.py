"""Declarative message schemas, shaped like Kafka's JSON message specs.

A message module writes its fields almost exactly as the JSON spec does::

    F("TopicData", "[]TopicProduceData", "0+", fields=[
        F("Name", "string", "0-12"),
        F("TopicId", "uuid", "13+"),
        ...
    ])

Names are Kafka's (``ThrottleTimeMs``); the Python dict key is the snake_case
form (``throttle_time_ms``, see :func:`snake`). Types are Kafka's type strings:
``int8 int16 int32 int64 uint16 uint32 float64 bool string bytes records uuid``,
``[]<type>`` arrays and ``<StructName>``/``[]<StructName>`` with ``fields``.
Flexible versions and tagged fields follow KIP-482.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

from .primitives import ZERO_UUID

PRIMITIVES = frozenset({"int8", "int16", "int32", "int64", "uint16", "uint32", "float64",
                        "bool", "string", "bytes", "records", "uuid"})

_MISSING: Any = object()


@dataclass(frozen=True)
class Versions:
    """A spec version range: ``"3+"``, ``"0-12"``, ``"5"`` or ``"none"``."""

    lo: int
    hi: Optional[int]  # None: open-ended; lo > hi (e.g. 0, -1) means none

    @classmethod
    def parse(cls, text: Optional[str]) -> "Versions":
        if text is None or text == "none":
            return cls(0, -1)
        text = text.strip()
        if text.endswith("+"):
            return cls(int(text[:-1]), None)
        if "-" in text:
            lo, hi = text.split("-")
            return cls(int(lo), int(hi))
        return cls(int(text), int(text))

    def __contains__(self, v: int) -> bool:
        return self.lo <= v and (self.hi is None or v <= self.hi)

    @property
    def empty(self) -> bool:
        return self.hi is not None and self.hi < self.lo

    def __str__(self) -> str:
        if self.empty:
            return "none"
        if self.hi is None:
            return f"{self.lo}+"
        return f"{self.lo}-{self.hi}" if self.hi != self.lo else str(self.lo)


def snake(name: str) -> str:
    """Kafka field name -> Python key: ``ThrottleTimeMs`` -> ``throttle_time_ms``,
    ``V3AndBelowTopics`` -> ``v3_and_below_topics``, ``Enable2Pc`` -> ``enable2_pc``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    versions: Versions
    nullable_versions: Versions
    tagged_versions: Versions
    tag: Optional[int]
    default: Any  # _MISSING: the type's default
    fields: Tuple["Field", ...] = ()
    key: str = ""

    # ---- type helpers
    @property
    def is_array(self) -> bool:
        return self.type.startswith("[]")

    @property
    def elem_type(self) -> str:
        return self.type[2:] if self.is_array else self.type

    @property
    def is_struct(self) -> bool:
        """Struct or array of structs."""
        return self.elem_type not in PRIMITIVES

    def present(self, v: int) -> bool:
        return v in self.versions

    def nullable(self, v: int) -> bool:
        return v in self.nullable_versions

    def tagged(self, v: int) -> bool:
        return self.tag is not None and v in self.tagged_versions

    def default_value(self) -> Any:
        """The Python default (fresh object for mutable kinds)."""
        if self.is_array:
            if self.default == "null" or self.default is None:
                return None
            return []
        if self.is_struct:
            return struct_default(self.fields)
        if self.default is not _MISSING:
            return self.default
        return type_default(self.type)


def type_default(t: str) -> Any:
    if t in ("string",):
        return ""
    if t == "bool":
        return False
    if t == "float64":
        return 0.0
    if t == "bytes":
        return b""
    if t == "records":
        return None
    if t == "uuid":
        return ZERO_UUID
    return 0


def struct_default(fields: Sequence[Field]) -> dict:
    return {f.key: f.default_value() for f in fields}


def F(name: str, type: str, versions: str, *, nullable: Optional[str] = None,
      tag: Optional[int] = None, tagged: Optional[str] = None, default: Any = _MISSING,
      fields: Sequence[Field] = (), key: Optional[str] = None) -> Field:
    """One field, in the JSON spec's vocabulary (``nullable`` = nullableVersions,
    ``tagged`` = taggedVersions, ``default`` already as a Python value)."""
    f = Field(name=name, type=type, versions=Versions.parse(versions),
              nullable_versions=Versions.parse(nullable), tagged_versions=Versions.parse(tagged),
              tag=tag, default=default, fields=tuple(fields), key=key or snake(name))
    elem = f.elem_type
    if elem in PRIMITIVES:
        if fields:
            raise ValueError(f"{name}: primitive type {type} cannot have fields")
    elif not fields:
        raise ValueError(f"{name}: struct type {type} needs fields")
    if (tag is None) != (tagged is None):
        raise ValueError(f"{name}: tag and tagged versions go together")
    return f


@dataclass(frozen=True)
class Message:
    name: str              # e.g. "ProduceRequest"
    api_key: int
    valid: Versions
    flexible: Versions
    fields: Tuple[Field, ...] = field(default=())

    def is_flexible(self, version: int) -> bool:
        return version in self.flexible


def message(name: str, api_key: int, valid: str, flexible: str, fields: Sequence[Field]) -> Message:
    return Message(name, api_key, Versions.parse(valid), Versions.parse(flexible), tuple(fields))
