"""The Maven-fetched Kafka classpath: protocol specs, tools, concurrent first download."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kprod.testing import java_tool_command, kafka_clients_jar, kafka_libs_dir, kafka_version
from kprod.testing.artifacts import cache_dir

pytestmark = pytest.mark.kafka  # needs Java + Maven (no broker, but the same toolchain)


def test_clients_jar_has_protocol_specs() -> None:
    jar = kafka_clients_jar()
    assert jar.name == f"kafka-clients-{kafka_version()}.jar"
    with zipfile.ZipFile(jar) as zf:
        specs = [n for n in zf.namelist() if re.fullmatch(r"common/message/\w+\.json", n)]
        text = zf.read("common/message/ProduceRequest.json").decode()
    assert len(specs) > 150
    # Specs carry // comments (Kafka parses them with ALLOW_COMMENTS).
    spec = json.loads("\n".join(line for line in text.splitlines()
                                if not line.lstrip().startswith("//")))
    assert spec["apiKey"] == 0 and spec["type"] == "request"


def test_libs_include_logging_binding_and_tools() -> None:
    names = {p.name for p in kafka_libs_dir().glob("*.jar")}
    version = kafka_version()
    assert {f"kafka_2.13-{version}.jar", f"kafka-tools-{version}.jar"} <= names
    if version.startswith("4."):  # Kafka 4 logs via Log4j2; the binding isn't in Kafka's POMs
        assert any(n.startswith("log4j-slf4j-impl-") for n in names)


def test_java_tool_command_runs() -> None:
    out = subprocess.run(java_tool_command("kafka.Kafka", "--version"), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert kafka_version() in out


@pytest.mark.slow
def test_concurrent_first_download_is_safe(tmp_path: Path) -> None:
    """Two processes fetching into an empty cache both get one complete libs dir."""
    kafka_libs_dir()  # warm ~/.m2 so this measures locking, not the network
    env = {**os.environ, "KPROD_CACHE_DIR": str(tmp_path)}
    code = "from kprod.testing import kafka_libs_dir; print(kafka_libs_dir())"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    libs = {out.strip() for out, _ in outs}
    assert libs == {str(tmp_path / "kafka" / kafka_version() / "libs")}
    assert (Path(libs.pop()) / ".complete").exists()
    assert not list((tmp_path / "kafka" / kafka_version()).glob("libs.partial-*"))
    assert cache_dir() != tmp_path  # the env override was per-subprocess only
