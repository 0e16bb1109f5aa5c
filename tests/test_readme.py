"""Every ```python block of README.md and docs/JAVA.md runs as written.

Each block is a complete program, run as a subprocess against the test broker. The HTML
comment above it says what it needs (README.md, "Development"):

    <!-- example: topics=events:3,audit records=events:1,audit:1 registry secure -->

``topics`` are created first (partitions after the colon, default 1) under fresh names
that replace the quoted names in the program; ``records`` are counted afterwards with
confluent-kafka's consumer (read_committed); ``registry`` provides a schema registry
(for ``http://localhost:8081/apis/ccompat/v7``), ``secure`` a SASL_SSL listener (for
``broker1:9093``, ``/etc/kafka/ca.pem``, user ``app``). ``localhost:9092`` becomes the
test broker's address. ``pytest`` marks a test module for the kprod pytest plugin, run by
pytest in a directory of its own (the plugin starts its broker).
"""
from __future__ import annotations

import itertools
import pathlib
import re
import subprocess
import sys
import time
from typing import Dict, Iterator, List, NamedTuple

import pytest

from kprod.testing import KafkaCluster

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCUMENTS = ("README.md", "docs/JAVA.md")
BOOTSTRAP = "localhost:9092"
REGISTRY_URL = "http://localhost:8081/apis/ccompat/v7"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_MARKER = re.compile(r"<!--\s*example:(.*?)-->\s*$")
_names = itertools.count(1)

pytestmark = pytest.mark.kafka   # every example runs against a real broker


class Example(NamedTuple):
    document: str
    line: int
    code: str
    options: Dict[str, str]   # topics=..., records=..., flags -> ""


def _examples() -> List[Example]:
    found = []
    for document in DOCUMENTS:
        text = (ROOT / document).read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            marker = _MARKER.match(before.strip())
            options: Dict[str, str] = {"unmarked": ""} if marker is None else {}
            for token in (marker.group(1).split() if marker else ()):
                key, _, value = token.partition("=")
                options[key] = value
            found.append(Example(document, line, match.group(1), options))
    return found


EXAMPLES = _examples()


def _pairs(spec: str) -> Dict[str, int]:
    """``"events:3,audit"`` -> {"events": 3, "audit": default}."""
    out = {}
    for item in filter(None, spec.split(",")):
        name, _, number = item.partition(":")
        out[name] = int(number) if number else -1
    return out


@pytest.fixture(scope="module")
def secure_cluster() -> Iterator[KafkaCluster]:
    with KafkaCluster(brokers=1, listeners=("SASL_SSL",)) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    from kprod.testing.registry import SchemaRegistry

    with SchemaRegistry() as registry:
        yield registry.url


def _count(bootstrap: str, topic: str, timeout: float = 60.0) -> int:
    """Committed records of ``topic`` (all partitions), read to the high watermarks."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"readme-{time.time_ns()}",
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=20).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        count, at_end = 0, set()
        deadline = time.monotonic() + timeout
        while len(at_end) < len(partitions):   # EOF: the partition's end was reached
            assert time.monotonic() < deadline, f"{topic}: {count} records, no end reached"
            for message in consumer.consume(num_messages=10_000, timeout=0.5):
                if message.error() is None:
                    count += 1
                    at_end.discard(message.partition())
                elif message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                else:
                    raise AssertionError(f"consumer error: {message.error()}")
        return count
    finally:
        consumer.close()


@pytest.mark.parametrize("example", EXAMPLES,
                         ids=[f"{e.document}:{e.line}" for e in EXAMPLES])
def test_example_runs_as_written(example: Example, request: pytest.FixtureRequest,
                                 tmp_path: pathlib.Path) -> None:
    assert "unmarked" not in example.options, (
        f"{example.document}:{example.line}: a python block needs an "
        f"<!-- example: ... --> comment above it (see tests/test_readme.py)")
    known = {"topics", "records", "registry", "secure", "pytest"}
    assert set(example.options) <= known, f"unknown options {set(example.options) - known}"
    code = example.code
    if "pytest" in example.options:
        _run_pytest_example(example, tmp_path)
        return
    if "secure" in example.options:
        cluster = request.getfixturevalue("secure_cluster")
        mechanism = "SCRAM-SHA-512"
        password = cluster.sasl_users[mechanism]["alice"]
        for placeholder, real in (("broker1:9093", cluster.bootstrap_for("SASL_SSL")),
                                  ("/etc/kafka/ca.pem", str(cluster.tls.ca_file)),
                                  ('"app"', '"alice"'), ('"app-secret"', f'"{password}"')):
            assert placeholder in code, f"the secure example should use {placeholder}"
            code = code.replace(placeholder, real)
    else:
        cluster = request.getfixturevalue("kafka")
        assert BOOTSTRAP in code, f"the example should connect to {BOOTSTRAP}"
        code = code.replace(BOOTSTRAP, cluster.bootstrap_servers)
    if "registry" in example.options:
        assert REGISTRY_URL in code
        code = code.replace(REGISTRY_URL, request.getfixturevalue("registry_url"))
    renamed = {}
    for topic, partitions in _pairs(example.options.get("topics", "")).items():
        fresh = f"{topic}-doc{next(_names)}"
        cluster.create_topic(fresh, max(partitions, 1))
        code, found = re.subn(r"([\"'])" + re.escape(topic) + r"\1", rf"\g<1>{fresh}\g<1>", code)
        assert found, f"topic {topic!r} is not named in the example"
        renamed[topic] = fresh
    program = tmp_path / "example.py"
    program.write_text(code)
    done = subprocess.run([sys.executable, str(program)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    report = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}\n--- program\n{code}"
    assert done.returncode == 0, report
    assert "Traceback" not in done.stderr, report
    for topic, expected in _pairs(example.options.get("records", "")).items():
        assert topic in renamed, f"records={topic} but no topics={topic}"
        assert _count(cluster.bootstrap_servers, renamed[topic]) == expected, report


def _run_pytest_example(example: Example, tmp_path: pathlib.Path) -> None:
    """A test module for the kprod pytest plugin: pytest runs it in a directory of its
    own; the plugin's kafka_cluster starts the broker, so no address is replaced."""
    assert set(example.options) == {"pytest"}, "pytest examples take no other options"
    assert BOOTSTRAP not in example.code, "a pytest example uses the kafka_bootstrap fixture"
    (tmp_path / "test_example.py").write_text(example.code)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    report = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}\n--- program\n{example.code}"
    assert done.returncode == 0, report
    tests = example.code.count("\ndef test_")
    assert tests and f"{tests} passed" in done.stdout, report
