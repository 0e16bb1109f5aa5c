"""What a user's type checker sees of kprod (issue 17).

mypy runs from outside the repository on a program written as a user would write it,
with ``--strict``: it finds the installed kprod (the dev install is a path entry, not an
import hook) and its hints and native stubs are complete enough that strict user code
has no errors, while each wrong use below is reported with the right message. The
stubs of the native modules are also compared with the Cython declarations they
describe: a ``cdef readonly`` field must not look assignable (stubtest cannot tell a
read-only attribute of an extension type from a writable one). ``make lint`` runs
stubtest itself."""
from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys
from typing import Dict, Set

import pytest

pytest.importorskip("mypy", reason="mypy is in the test extra (pip install '.[test]')")

NATIVE = pathlib.Path(__file__).resolve().parent.parent / "kprod" / "_native"

PROGRAM = '''
import asyncio
from typing import Any, List, Optional

from kprod import (
    BytesSerializer, DoubleSerializer, FloatSerializer, IntegerSerializer, JsonSerializer,
    LongSerializer, Partitioner, Producer, ProducerRecord, RecordFuture, RecordMetadata,
    RoundRobinPartitioner, Serializer, ShortSerializer, StringSerializer, UUIDSerializer,
    as_completed, murmur2, partition_for_key, wait,
)
from kprod.admin import AdminClient, CreatedTopic, NewTopic
from kprod.aio import AsyncProducer
from kprod.bulk import BulkFuture, BulkMetadata
from kprod.config import ProducerConfig
from kprod.errors import GroupAuthorizationFailedError, KafkaError, for_code


def on_delivery(metadata: Optional[RecordMetadata], error: Optional[BaseException]) -> None:
    if metadata is not None:
        print(metadata.topic, metadata.partition, metadata.offset)


def send(producer: Producer) -> RecordMetadata:
    future: RecordFuture = producer.send("t", b"v", key=b"k", partition=0,
                                         callback=on_delivery)
    future.add_done_callback(lambda done: print(done.done()))
    producer.send(ProducerRecord("t", b"k", b"v"))
    done = wait([future], timeout=5.0)
    for finished in as_completed(done.done):
        print(finished)
    producer.flush(timeout=10.0)
    return future.get(timeout=10)


def many(producer: Producer, values: List[bytes]) -> int:
    bulk: BulkFuture = producer.send_many("t", values, keys=values)
    outcome: BulkMetadata = bulk.get(timeout=30.0)
    return len(outcome)


async def send_async(config: dict[str, Any]) -> int:
    async with AsyncProducer(config) as producer:
        metadata: RecordMetadata = await producer.send_and_wait("t", b"v")
        future = await producer.send("t", b"w")
        again: RecordMetadata = await future
        return metadata.offset + again.offset


def admin(bootstrap: str) -> CreatedTopic:
    with AdminClient({"bootstrap.servers": bootstrap}) as client:
        client.create_topics([NewTopic("a", 3, 1)])
        return client.create_topic("b", 1, 1)


def configured() -> Producer:
    config = ProducerConfig({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": 5})
    linger: Any = config["linger.ms"]
    print(linger, StringSerializer().serialize("t", "x"), JsonSerializer())
    return Producer({"bootstrap.servers": "127.0.0.1:9092"},
                    value_serializer=StringSerializer())


class Upper:
    def serialize(self, topic: str, data: Any, headers: Any = None) -> Optional[bytes]:
        return None if data is None else str(data).upper().encode()


# Every built-in (and a user's class) is a Serializer; the built-in partitioner a Partitioner.
serializers: List[Serializer] = [
    BytesSerializer(), StringSerializer(), IntegerSerializer(), LongSerializer(),
    ShortSerializer(), DoubleSerializer(), FloatSerializer(), UUIDSerializer(),
    JsonSerializer(), Upper(),
]
partitioner: Partitioner = RoundRobinPartitioner()
hashed: int = murmur2(b"key") + partition_for_key(b"key", 6)
code: int = for_code(30).code
assert issubclass(GroupAuthorizationFailedError, KafkaError)
asyncio.run(send_async({"bootstrap.servers": "127.0.0.1:9092"}))
'''

# Each wrong use, appended alone to PROGRAM, and what mypy must say about it.
WRONG = {
    "error code as str": ('name: str = for_code(30).code',
                          'expression has type "int", variable has type "str"'),
    "partition as str": ('Producer().send("t", b"v", partition="0")',
                         'Argument "partition" to "send" of "Producer" has incompatible '
                         'type "str"; expected "int | None"'),
    "metadata offset as str": ('def offset(f: RecordFuture) -> str:\n'
                               '    return f.get().offset',
                               'Incompatible return value type (got "int", expected "str")'),
    "future field assigned": ('def poke(f: RecordFuture) -> None:\n    f._delta = 3',
                              'Property "_delta" defined in "RecordFuture" is read-only'),
    "bulk result misread": ('def rows(b: BulkFuture) -> List[str]:\n    return b.get()',
                            'Incompatible return value type (got "BulkMetadata", '
                            'expected "list[str]")'),
}


def _mypy(tmp_path: pathlib.Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "user_program.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           "user_program.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_a_strict_user_program_type_checks(tmp_path: pathlib.Path) -> None:
    done = _mypy(tmp_path, PROGRAM)
    assert "import-not-found" not in done.stdout, (
        "mypy cannot see kprod: reinstall with `make lint` (editable_mode=compat)\n"
        + done.stdout)
    assert done.returncode == 0, done.stdout


def test_wrong_uses_are_reported(tmp_path: pathlib.Path) -> None:
    source = PROGRAM + "".join(f"\n\n{code}\n" for code, _ in WRONG.values())
    done = _mypy(tmp_path, source)
    assert done.returncode == 1, done.stdout
    errors = [line for line in done.stdout.splitlines() if ": error: " in line]
    for name, (_, message) in WRONG.items():
        assert any(message in line for line in errors), f"{name}: {message!r} not in\n" \
            + done.stdout
    assert len(errors) == len(WRONG), done.stdout   # nothing else is reported


def _cython_fields(cls_source: str) -> Dict[str, str]:
    """``{field: "readonly" | "public"}`` of the cdef class bodies in a .pyx/.pxd."""
    fields: Dict[str, str] = {}
    for match in re.finditer(r"^ {4}cdef (readonly|public) [\w.]+ (\w+)", cls_source,
                             re.MULTILINE):
        fields[match.group(2)] = match.group(1)
    return fields


def _cdef_classes(module: str) -> Dict[str, Dict[str, str]]:
    """Each cdef class of a native module (its .pxd declaring the fields, if any, and
    the .pyx) and its readonly/public fields."""
    classes: Dict[str, Dict[str, str]] = {}
    for suffix in (".pxd", ".pyx"):
        path = NATIVE / (module + suffix)
        if not path.exists():
            continue
        text = path.read_text()
        starts = list(re.finditer(r"^cdef class (\w+)[^\n]*\n", text, re.MULTILINE))
        for i, start in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            body = re.split(r"^\S", text[start.end():end], maxsplit=1, flags=re.MULTILINE)[0]
            classes.setdefault(start.group(1), {}).update(_cython_fields(body))
    return classes


def _stub_members(path: pathlib.Path) -> Dict[str, Dict[str, Set[str]]]:
    """``{class: {"attributes": {...}, "properties": {...}, "setters": {...}}}``."""
    members: Dict[str, Dict[str, Set[str]]] = {}
    for node in ast.parse(path.read_text()).body:
        if not isinstance(node, ast.ClassDef):
            continue
        kinds: Dict[str, Set[str]] = {"attributes": set(), "properties": set(),
                                      "setters": set()}
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                kinds["attributes"].add(item.target.id)
            elif isinstance(item, ast.FunctionDef):
                for decorator in item.decorator_list:
                    if isinstance(decorator, ast.Name) and decorator.id == "property":
                        kinds["properties"].add(item.name)
                    elif isinstance(decorator, ast.Attribute) and decorator.attr == "setter":
                        kinds["setters"].add(item.name)
        members[node.name] = kinds
    return members


MODULES = sorted(path.stem for path in NATIVE.glob("*.pyx"))


def test_every_native_module_has_a_stub() -> None:
    assert MODULES, NATIVE
    missing = [name for name in MODULES if not (NATIVE / (name + ".pyi")).exists()]
    assert not missing, f"native modules without a .pyi stub: {missing}"


@pytest.mark.parametrize("module", MODULES)
def test_stub_fields_are_as_writable_as_the_cython_ones(module: str) -> None:
    stub = _stub_members(NATIVE / (module + ".pyi"))
    wrong = []
    for cls, fields in _cdef_classes(module).items():
        for name, access in fields.items():
            if name.startswith("_") and not (name in stub.get(cls, {}).get("properties", ())
                                             or name in stub.get(cls, {}).get("attributes", ())):
                continue        # private and not in the stub: nothing to compare
            kinds = stub.get(cls)
            if kinds is None:
                wrong.append(f"{cls} is missing from the stub")
                break
            writable = name in kinds["attributes"] or name in kinds["setters"]
            readable = writable or name in kinds["properties"]
            if not readable:
                wrong.append(f"{cls}.{name} ({access}) is missing from the stub")
            elif access == "readonly" and writable:
                wrong.append(f"{cls}.{name} is cdef readonly but the stub lets it be "
                             "assigned (declare it with @property)")
            elif access == "public" and not writable:
                wrong.append(f"{cls}.{name} is cdef public but the stub makes it read-only")
    assert not wrong, "\n".join(wrong)
