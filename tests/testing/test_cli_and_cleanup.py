"""``python -m kprod.testing`` start/stop, and no JVM outlives its Python process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kprod.testing import kafka_libs_dir, kafka_version
from tests.reference import consume, produce


def _isolated_cache(tmp_path: Path) -> dict[str, str]:
    """A private cache dir (own state file) that reuses the downloaded jars via a symlink."""
    libs = kafka_libs_dir()
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / kafka_version()).symlink_to(libs.parent, target_is_directory=True)
    return {**os.environ, "KPROD_CACHE_DIR": str(tmp_path)}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _alive(pid)


def _jvm_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.kafka
def test_cli_start_stop(tmp_path: Path) -> None:
    env = _isolated_cache(tmp_path)
    cli = [sys.executable, "-m", "kprod.testing"]
    proc = subprocess.Popen([*cli, "start"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        bootstrap = proc.stdout.readline().strip()  # blocks until the broker is ready
        assert bootstrap.startswith("127.0.0.1:"), proc.stderr.read() if proc.poll() else bootstrap
        jvms = _jvm_children(proc.pid)
        assert jvms
        status = subprocess.run([*cli, "status"], env=env, capture_output=True, text=True)
        assert status.stdout.strip() == bootstrap
        again = subprocess.run([*cli, "start"], env=env, capture_output=True, text=True, timeout=30)
        assert again.returncode == 1 and "already running" in again.stderr

        # A usable broker (auto-creation is off, so create the topic first).
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("cli", 1, 1)])["cli"].result(30)
        produce(bootstrap, "cli", [b"hello"])
        assert consume(bootstrap, "cli", 1)[0].value() == b"hello"

        stop = subprocess.run([*cli, "stop"], env=env, capture_output=True, text=True, timeout=90)
        assert stop.returncode == 0, stop.stderr
        assert proc.wait(30) == 0
        assert all(_wait_dead(pid, 10) for pid in jvms)
        assert not (tmp_path / "cluster.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.kafka
def test_jvm_dies_with_killed_python(tmp_path: Path) -> None:
    """SIGKILL of the owning Python process leaves no broker behind (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    env = _isolated_cache(tmp_path)
    code = ("import time; from kprod.testing import KafkaCluster\n"
            "kc = KafkaCluster().start(); print(kc.pid(1), flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        jvm = int(proc.stdout.readline())
        assert _alive(jvm)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert _wait_dead(jvm, 10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.kafka
def test_sigterm_stops_cluster(tmp_path: Path) -> None:
    """Default SIGTERM handling stops brokers gracefully instead of orphaning them."""
    env = _isolated_cache(tmp_path)
    code = ("import time; from kprod.testing import KafkaCluster\n"
            "kc = KafkaCluster().start(); print(kc.pid(1), flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        jvm = int(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == -signal.SIGTERM
        assert _wait_dead(jvm, 5)
    finally:
        if proc.poll() is None:
            proc.kill()
