"""kprod's schemas against Apache Kafka's JSON message specs.

The specs are read from the kafka-clients jar (``common/message/*.json``,
fetched by kprod.testing.artifacts). For every (message, version) in kprod's
schema range we compare, recursively and in order: field names (exactly; the
Python key is derived by ``snake``), type strings (struct names included),
nullability, tagged-ness and tag numbers, and defaults; plus validVersions,
flexibleVersions and that kprod's supported range lies inside validVersions.
"""
from __future__ import annotations

import json
import re
import zipfile
from typing import Any, Dict, List

import pytest

from kprod._internals.protocol import APIS
from kprod._internals.protocol.schema import Versions

_INTS = {"int8", "int16", "int32", "int64", "uint16", "uint32"}


@pytest.fixture(scope="module")
def specs() -> Dict[str, dict]:
    from kprod.testing.artifacts import kafka_clients_jar

    # No skip: the project installs Maven and the jars itself, so a failed
    # download is a real failure, not a reason to drop the conformance check.
    jar = kafka_clients_jar()
    out = {}
    with zipfile.ZipFile(jar) as zf:
        for api in APIS:
            for msg in (api.request, api.response):
                text = zf.read(f"common/message/{msg.name}.json").decode("utf-8")
                out[msg.name] = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))
    return out


def _spec_default(f: dict, nullable: bool) -> Any:
    t = f["type"]
    d = f.get("default")
    scalars = _INTS | {"bool", "string", "float64", "bytes", "records", "uuid"}
    if t.startswith("[]") or t not in scalars:
        return "<composite>"
    if d is None:
        return {"string": "", "bool": False, "float64": 0.0, "bytes": b"", "records": None,
                "uuid": "<zero-uuid>"}.get(t, 0)
    if isinstance(d, str):
        if d == "null":
            assert nullable or t in ("records",), f"{f['name']}: null default on non-nullable"
            return None
        if t in _INTS:
            return int(d, 0)
        if t == "bool":
            return {"true": True, "false": False}[d]
        if t == "float64":
            return float(d)
    return d


def _ours_default(f) -> Any:
    if f.is_array or f.is_struct:
        return "<composite>"
    if f.type == "uuid":
        return "<zero-uuid>" if f.default_value().int == 0 else f.default_value()
    return f.default_value()


def _compare(ours, theirs: List[dict], common: Dict[str, List[dict]], v: int, where: str) -> None:
    spec_fields = [f for f in theirs if v in Versions.parse(f["versions"])]
    our_fields = [f for f in ours if f.present(v)]
    assert [f.name for f in our_fields] == [f["name"] for f in spec_fields], where
    for mine, spec in zip(our_fields, spec_fields):
        w = f"{where}.{mine.name}"
        assert mine.type == spec["type"], w
        nullable = v in Versions.parse(spec.get("nullableVersions"))
        assert mine.nullable(v) == nullable, w + " nullability"
        tagged = "tag" in spec and v in Versions.parse(spec.get("taggedVersions"))
        assert mine.tagged(v) == tagged, w + " taggedness"
        if tagged:
            assert mine.tag == spec["tag"], w + " tag"
        assert "flexibleVersions" not in spec, w + ": field-level flexibleVersions unsupported"
        assert _ours_default(mine) == _spec_default(spec, nullable), w + " default"
        if mine.is_struct:
            sub = spec.get("fields") or common[mine.elem_type]
            _compare(mine.fields, sub, common, v, w)


def _cases():
    return [(api, msg) for api in APIS for msg in (api.request, api.response)]


@pytest.mark.parametrize("api,msg", _cases(), ids=[m.name for _, m in _cases()])
def test_schema_matches_spec(specs, api, msg):
    spec = specs[msg.name]
    assert spec["apiKey"] == msg.api_key == api.key
    assert Versions.parse(spec["validVersions"]) == msg.valid
    assert Versions.parse(spec["flexibleVersions"]) == msg.flexible
    lo, hi = api.supported
    assert lo in msg.valid and hi in msg.valid and lo <= hi
    if spec.get("latestVersionUnstable"):
        assert hi < msg.valid.hi, f"{msg.name}: newest version is unstable in the spec"
    common = {c["name"]: c["fields"] for c in spec.get("commonStructs", [])}
    for v in range(msg.valid.lo, msg.valid.hi + 1):
        _compare(msg.fields, spec["fields"], common, v, f"{msg.name} v{v}")


def test_comparison_catches_differences(specs):
    """The comparator is not vacuous: altered schemas are rejected."""
    import dataclasses

    from kprod._internals.protocol.messages import BY_NAME

    msg = BY_NAME["Produce"].response
    spec = specs[msg.name]
    responses = msg.fields[0]
    partition = responses.fields[2]
    current_leader = partition.fields[-1]
    altered = [
        dataclasses.replace(current_leader, tag=1),
        dataclasses.replace(current_leader, tagged_versions=Versions.parse("none"), tag=None),
        dataclasses.replace(partition.fields[0], type="int64"),
        dataclasses.replace(partition.fields[3], default=0),
        dataclasses.replace(partition.fields[6], nullable_versions=Versions.parse("none")),
    ]
    for bad in altered:
        fields = tuple(bad if f.name == bad.name else f for f in partition.fields)
        new_partition = dataclasses.replace(partition, fields=fields)
        new_responses = dataclasses.replace(
            responses, fields=(responses.fields[0], responses.fields[1], new_partition))
        with pytest.raises(AssertionError):
            _compare((new_responses,) + msg.fields[1:], spec["fields"], {}, 10, "x")
    _compare(msg.fields, spec["fields"], {}, 10, "x")  # the unaltered one passes


def _union(fields, into: Dict[str, Dict[str, None]], name: str) -> None:
    """Struct type name -> union of its field keys over every use and version."""
    keys = into.setdefault(name, {})
    for f in fields:
        keys.setdefault(f.key, None)
        if f.is_struct:
            _union(f.fields, into, f.elem_type)


@pytest.mark.parametrize("api,msg", _cases(), ids=[m.name for _, m in _cases()])
def test_generated_class_slots_are_the_schema_fields(api, msg):
    """Each generated class has exactly the union of the schema's fields, in order."""
    from kprod._internals.protocol import types

    structs: Dict[str, Dict[str, None]] = {}
    _union(msg.fields, structs, msg.name)
    for name, keys in structs.items():
        cls = getattr(types, name)
        assert cls.__slots__ == tuple(keys), name
        assert set(cls.__annotations__) == set(keys), name
        obj = cls()
        assert all(hasattr(obj, k) for k in keys), name   # every slot has its default
        assert not hasattr(obj, "__dict__"), name
