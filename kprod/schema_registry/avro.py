"""Avro serializer in the Confluent wire format, with schemas from a schema registry.

Every record is ``0x00`` (magic byte) + the schema id as 4 bytes big-endian +
the Avro binary encoding of the value (fastavro), which is what Confluent's
deserializers (Java ``KafkaAvroDeserializer``, confluent-kafka's
``AvroDeserializer``) read.
"""
from __future__ import annotations

import dataclasses
import inspect
import io
import json
import struct
import threading
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union,
                    cast)

from kprod.errors import ConfigError, SerializationError
from kprod.record import Header

from .client import SchemaRegistryClient, canonical_schema_str

try:
    import fastavro
    from fastavro.validation import validate as _fastavro_validate
except ImportError:  # pragma: no cover - depends on the installed extras
    fastavro = None  # type: ignore[assignment]

__all__ = [
    "AvroSerializer", "MAGIC_BYTE", "topic_name_strategy", "record_name_strategy",
    "topic_record_name_strategy", "SubjectNameStrategy",
]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")

#: ``strategy(topic, is_key, record_name) -> subject``.
SubjectNameStrategy = Callable[[str, bool, Optional[str]], str]


def topic_name_strategy(topic: str, is_key: bool, record_name: Optional[str]) -> str:
    """``<topic>-key`` / ``<topic>-value`` (Confluent's default ``TopicNameStrategy``)."""
    return f"{topic}-{'key' if is_key else 'value'}"


def record_name_strategy(topic: str, is_key: bool, record_name: Optional[str]) -> str:
    """The record's full name, e.g. ``com.example.Customer`` (``RecordNameStrategy``)."""
    if not record_name:
        raise SerializationError("RecordNameStrategy needs a named schema (record, enum or fixed)")
    return record_name


def topic_record_name_strategy(topic: str, is_key: bool, record_name: Optional[str]) -> str:
    """``<topic>-<record full name>`` (``TopicRecordNameStrategy``)."""
    return f"{topic}-{record_name_strategy(topic, is_key, record_name)}"


_STRATEGIES: Dict[str, SubjectNameStrategy] = {
    "topic_name": topic_name_strategy, "topicnamestrategy": topic_name_strategy,
    "record_name": record_name_strategy, "recordnamestrategy": record_name_strategy,
    "topic_record_name": topic_record_name_strategy,
    "topicrecordnamestrategy": topic_record_name_strategy,
}


def _resolve_strategy(spec: Union[str, SubjectNameStrategy]) -> SubjectNameStrategy:
    if callable(spec):
        return spec
    key = str(spec).rsplit(".", 1)[-1].strip().lower()
    try:
        return _STRATEGIES[key]
    except KeyError:
        raise ConfigError(f"unknown subject name strategy {spec!r}: use topic_name, "
                          f"record_name, topic_record_name or a callable") from None


# -- schema checks ---------------------------------------------------------------------

_PRIMITIVE_DEFAULT_CHECKS: Dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(1 << 31) <= v < (1 << 31),
    "long": lambda v: (isinstance(v, int) and not isinstance(v, bool)
                       and -(1 << 63) <= v < (1 << 63)),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "bytes": lambda v: isinstance(v, str),
}


def _type_label(schema: Any) -> str:
    if isinstance(schema, Mapping):
        return str(schema.get("name") or schema.get("type"))
    return json.dumps(schema) if isinstance(schema, list) else str(schema)


def _default_ok(schema: Any, value: Any, named: Dict[str, Any]) -> bool:
    """Does ``value`` (a JSON default) match ``schema``, per the Avro spec?"""
    if isinstance(schema, list):  # union: the default must match the FIRST branch
        return bool(schema) and _default_ok(schema[0], value, named)
    if isinstance(schema, str):
        if schema in _PRIMITIVE_DEFAULT_CHECKS:
            return _PRIMITIVE_DEFAULT_CHECKS[schema](value)
        target = named.get(schema)
        return True if target is None else _default_ok(target, value, named)
    if isinstance(schema, Mapping):
        kind = schema.get("type")
        if kind in ("record", "error"):
            return isinstance(value, Mapping)
        if kind == "enum":
            return isinstance(value, str) and value in schema.get("symbols", ())
        if kind == "array":
            return isinstance(value, list) and all(
                _default_ok(schema.get("items"), v, named) for v in value)
        if kind == "map":
            return isinstance(value, Mapping) and all(
                _default_ok(schema.get("values"), v, named) for v in value.values())
        if kind == "fixed":
            return isinstance(value, str)
        return _default_ok(kind, value, named)
    return True


def _check_defaults(schema: Any, namespace: str = "", named: Optional[Dict[str, Any]] = None,
                    path: str = "") -> None:
    """Raise ConfigError for a field default that doesn't match its type.

    fastavro accepts these, but the Java Avro parser (and so the registry) and
    Avro readers don't: e.g. ``"type": ["null", "string"], "default": "null"``
    (the string "null") must be ``"default": null``.
    """
    named = {} if named is None else named
    if isinstance(schema, list):
        for branch in schema:
            _check_defaults(branch, namespace, named, path)
        return
    if not isinstance(schema, Mapping):
        return
    kind = schema.get("type")
    if kind in ("record", "error", "enum", "fixed") and schema.get("name"):
        name = str(schema["name"])
        ns = schema.get("namespace", namespace) if "." not in name else name.rsplit(".", 1)[0]
        full = name if "." in name or not ns else f"{ns}.{name}"
        named[full] = schema
        named.setdefault(name, schema)
        namespace = ns or ""
        path = full
    if kind in ("record", "error"):
        for f in schema.get("fields", ()):
            fpath = f"{path}.{f.get('name')}"
            _check_defaults(f.get("type"), namespace, named, fpath)
            if "default" in f and not _default_ok(f.get("type"), f["default"], named):
                ftype = f.get("type")
                hint = ""
                if isinstance(ftype, list) and ftype and ftype[0] == "null":
                    hint = (" (for a union whose first branch is \"null\" the default must be "
                            "JSON null, i.e. \"default\": null, not the string \"null\")")
                elif isinstance(ftype, list):
                    hint = (f" (a union's default must match its first branch, "
                            f"{_type_label(ftype[0])}; reorder the branches if needed)")
                raise ConfigError(
                    f"Invalid Avro schema: field {fpath!r} of type {_type_label(ftype)} has "
                    f"default {json.dumps(f['default'])}, which is not a valid "
                    f"{_type_label(ftype[0] if isinstance(ftype, list) and ftype else ftype)}"
                    f"{hint}")
    elif kind == "array":
        _check_defaults(schema.get("items"), namespace, named, path + "[]")
    elif kind == "map":
        _check_defaults(schema.get("values"), namespace, named, path + "{}")


def _parse(schema: Union[str, Mapping[str, Any], List[Any]]) -> Tuple[Any, Any, str]:
    """(json, parsed fastavro schema, canonical text); ConfigError if invalid."""
    if fastavro is None:
        raise ConfigError("the Avro serializer needs fastavro: pip install 'kprod[avro]'")
    if isinstance(schema, str):
        text = schema
        try:
            schema = json.loads(text)
        except ValueError as exc:
            stripped = text.strip()
            if stripped and not stripped.startswith(("{", "[", '"')):
                schema = stripped  # a bare primitive name such as string
            else:
                raise ConfigError(f"Invalid Avro schema: not JSON: {exc}") from None
    _check_defaults(schema)
    try:
        parsed = fastavro.parse_schema(cast(Any, schema), _write_hint=True)
    except Exception as exc:
        raise ConfigError(f"Invalid Avro schema: {type(exc).__name__}: {exc}") from exc
    return schema, parsed, canonical_schema_str(schema)


def _record_name(schema_json: Any) -> Optional[str]:
    if isinstance(schema_json, Mapping) and schema_json.get("name"):
        name = str(schema_json["name"])
        ns = schema_json.get("namespace")
        return name if "." in name or not ns else f"{ns}.{name}"
    return None


class _Resolved:
    """A schema ready for writing: its id and the parsed fastavro schema."""

    __slots__ = ("schema_id", "parsed", "header")

    def __init__(self, schema_id: int, parsed: Any) -> None:
        self.schema_id = schema_id
        self.parsed = parsed
        self.header = _HEADER.pack(MAGIC_BYTE, schema_id)


class AvroSerializer:
    """Serializes dicts, dataclasses or any object (via ``to_dict``) to Confluent Avro.

    Use it as ``key.serializer`` or ``value.serializer``; say which with
    ``is_key`` (the subject is ``<topic>-key`` or ``<topic>-value`` with the
    default strategy)::

        registry = SchemaRegistryClient("http://localhost:8081")
        producer = Producer({"bootstrap.servers": "...",
                             "value.serializer": AvroSerializer(registry, CUSTOMER_SCHEMA)})

    :param registry: a :class:`SchemaRegistryClient` (share it: it holds the caches).
    :param schema: the writer schema (JSON text or parsed JSON). May be None with
        ``use_latest_version=True``: the subject's latest schema is used.
    :param is_key: True when serializing keys (the subject name strategy gets it).
    :param subject_name_strategy: ``"topic_name"`` (default), ``"record_name"``,
        ``"topic_record_name"`` or a callable ``(topic, is_key, record_name) -> subject``.
    :param auto_register_schemas: register the schema under the subject on first use
        (else it must already be registered: it is looked up).
    :param use_latest_version: write with the subject's latest registered schema
        (fetched once per subject and cached; call :meth:`refresh` to re-read it);
        takes precedence over ``auto_register_schemas`` (nothing is registered).
    :param to_dict: ``f(obj)`` or ``f(obj, (topic, is_key))`` turning a value into a dict
        (dicts and dataclasses need none).

    Schema ids are resolved on the first record of each subject; :meth:`warm_up`
    does it ahead of time. Errors: invalid schemas raise :class:`ConfigError` at
    construction, values that don't match the schema raise
    :class:`SerializationError` naming the field, and registry failures raise
    :class:`~kprod.schema_registry.SchemaRegistryError` (the producer's ``send()``
    reports all of them as ``SerializationError`` chained to the original).
    """

    def __init__(self, registry: SchemaRegistryClient,
                 schema: Union[str, Mapping[str, Any], List[Any], None] = None, *,
                 is_key: bool = False,
                 subject_name_strategy: Union[str, SubjectNameStrategy] = "topic_name",
                 auto_register_schemas: bool = True, use_latest_version: bool = False,
                 to_dict: Optional[Callable[..., Any]] = None) -> None:
        if schema is None and not use_latest_version:
            raise ConfigError("AvroSerializer needs a schema unless use_latest_version=True")
        self.registry = registry
        self.is_key = bool(is_key)
        self.subject_name_strategy = _resolve_strategy(subject_name_strategy)
        self.auto_register_schemas = auto_register_schemas
        self.use_latest_version = use_latest_version
        self._to_dict = _adapt_to_dict(to_dict) if to_dict is not None else None
        self._schema_json: Any = None
        self._parsed: Any = None
        self._schema_text: Optional[str] = None
        self._record_name: Optional[str] = None
        if schema is not None:
            self._schema_json, self._parsed, self._schema_text = _parse(schema)
            self._record_name = _record_name(self._schema_json)
        self._by_subject: Dict[str, _Resolved] = {}
        self._subject_for_topic: Dict[str, str] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        what = self._record_name or ("latest" if self._schema_text is None else "schema")
        return f"AvroSerializer({what}, is_key={self.is_key})"

    # -- public --------------------------------------------------------------------------
    def subject(self, topic: str) -> str:
        """The subject this serializer uses for ``topic``."""
        subject = self._subject_for_topic.get(topic)
        if subject is None:
            subject = self.subject_name_strategy(topic, self.is_key, self._record_name)
            self._subject_for_topic[topic] = subject
        return subject

    def schema_id(self, topic: str) -> int:
        """Resolve (register / look up) the schema for ``topic``; return its id."""
        return self._resolve(topic).schema_id

    def warm_up(self, topics: Union[str, Iterable[str]]) -> Dict[str, int]:
        """Resolve schema ids before the first send; returns ``{subject: id}``.

        Registry errors (unreachable, incompatible schema, ...) surface here rather
        than on the first ``send()``.
        """
        if isinstance(topics, str):
            topics = [topics]
        out = {}
        for topic in topics:
            resolved = self._resolve(topic)
            out[self.subject(topic)] = resolved.schema_id
        return out

    def refresh(self) -> None:
        """Forget resolved subjects (re-reads the latest version with use_latest_version)."""
        with self._lock:
            self._by_subject.clear()

    def serialize(self, topic: str, data: Any,
                  headers: Optional[List[Header]] = None) -> Optional[bytes]:
        if data is None:
            return None
        resolved = self._by_subject.get(self._subject_for_topic.get(topic, ""))
        if resolved is None:
            resolved = self._resolve(topic)
        record = self._as_record(data, topic)
        buf = io.BytesIO()
        buf.write(resolved.header)
        try:
            fastavro.schemaless_writer(buf, resolved.parsed, record)
        except Exception as exc:
            raise SerializationError(_describe_mismatch(record, resolved.parsed, exc)) from exc
        return buf.getvalue()

    __call__ = serialize

    # -- internals -------------------------------------------------------------------------
    def _as_record(self, data: Any, topic: str) -> Any:
        if self._to_dict is not None:
            return self._to_dict(data, (topic, self.is_key))
        if (isinstance(data, Mapping) or not dataclasses.is_dataclass(data)
                or isinstance(data, type)):
            return data
        return dataclasses.asdict(data)

    def _resolve(self, topic: str) -> _Resolved:
        subject = self.subject(topic)
        resolved = self._by_subject.get(subject)
        if resolved is not None:
            return resolved
        registry = self.registry
        if self.use_latest_version:
            latest = registry.get_latest_version(subject)
            if latest.schema.schema_type.upper() != "AVRO":
                raise SerializationError(
                    f"latest schema of subject {subject!r} is {latest.schema.schema_type}, "
                    f"not AVRO")
            _, parsed, _ = _parse(latest.schema.schema_str)
            resolved = _Resolved(latest.schema_id, parsed)
        elif self._schema_text is None:     # no schema of its own: refused at construction
            raise ConfigError(f"the Avro serializer for {topic!r} has no schema")
        elif self.auto_register_schemas:
            resolved = _Resolved(registry.register_schema(subject, self._schema_text), self._parsed)
        else:
            resolved = _Resolved(registry.lookup_schema(subject, self._schema_text).schema_id,
                                 self._parsed)
        with self._lock:
            self._by_subject[subject] = resolved
        return resolved


def _adapt_to_dict(fn: Callable[..., Any]) -> Callable[[Any, Tuple[str, bool]], Any]:
    try:
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
        two = len(params) >= 2
    except (TypeError, ValueError):
        two = False
    if two:
        return fn
    return lambda obj, ctx: fn(obj)


def _describe_mismatch(record: Any, parsed: Any, exc: Exception) -> str:
    """Name the offending field(s) (fastavro's writer errors often don't)."""
    try:
        _fastavro_validate(record, parsed, raise_errors=True)
    except Exception as verr:  # fastavro.validation.ValidationError
        problems = getattr(verr, "errors", None) or [str(verr)]
        text = "; ".join(str(p) for p in problems[:5])
        return f"value does not match the Avro schema: {text}"
    return f"value does not match the Avro schema: {type(exc).__name__}: {exc}"
