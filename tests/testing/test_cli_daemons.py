"""The long-running CLIs: ``python -m kprod.testing start`` under nohup (SIGHUP ignored),
``create-topic``, ``stop``; ``python -m kprod.testing.registry start|status|stop``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kprod.testing import kafka_libs_dir, kafka_version
from tests.reference import consume

from .test_cli_and_cleanup import _alive, _jvm_children, _wait_dead

CLI = [sys.executable, "-m", "kprod.testing"]
REGISTRY_CLI = [sys.executable, "-m", "kprod.testing.registry"]


def _isolated_cache(tmp_path: Path, registry: bool = False) -> dict[str, str]:
    """A private cache dir (own state files) reusing the downloaded jars via symlinks."""
    (tmp_path / "kafka").mkdir()
    (tmp_path / "kafka" / kafka_version()).symlink_to(kafka_libs_dir().parent,
                                                      target_is_directory=True)
    if registry:
        from kprod.testing.registry import apicurio_dir, apicurio_version
        (tmp_path / "apicurio").mkdir()
        (tmp_path / "apicurio" / apicurio_version()).symlink_to(apicurio_dir().parent,
                                                                target_is_directory=True)
    return {**os.environ, "KPROD_CACHE_DIR": str(tmp_path)}


def _ignores_sighup(pid: int) -> bool:
    """From the kernel's view of the process: is SIGHUP in its ignored-signals mask?"""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGHUP - 1)))
    raise AssertionError("no SigIgn line")


@pytest.mark.kafka
def test_nohup_start_survives_sighup_creates_topics_and_stops(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    env = _isolated_cache(tmp_path)
    log = tmp_path / "nohup.out"
    # As a user types it: the launching shell exits at once, the server goes on.
    launch = subprocess.run(
        ["bash", "-c", f"nohup {' '.join(CLI)} start > {log} 2>&1 & echo $!"],
        env=env, capture_output=True, text=True, timeout=30, check=True)
    pid = int(launch.stdout.strip())
    try:
        deadline = time.monotonic() + 180
        status = subprocess.run([*CLI, "status"], env=env, capture_output=True, text=True)
        while status.returncode != 0:          # until the broker is up (start wrote state)
            assert _alive(pid) and time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
            status = subprocess.run([*CLI, "status"], env=env, capture_output=True, text=True)
        bootstrap = status.stdout.strip()
        assert log.read_text().splitlines()[0] == bootstrap
        assert _ignores_sighup(pid)
        os.kill(pid, signal.SIGHUP)            # the terminal hangs up

        created = subprocess.run([*CLI, "create-topic", "orders", "--partitions", "3"],
                                 env=env, capture_output=True, text=True, timeout=120)
        assert created.returncode == 0, created.stderr
        assert "created topic orders (3 partitions" in created.stdout
        again = subprocess.run([*CLI, "create-topic", "orders", "--partitions", "3"],
                               env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 1 and again.stderr.strip().splitlines() == [
            "create-topic orders: TOPIC_ALREADY_EXISTS: topic 'orders': "
            "Topic 'orders' already exists."]
        too_many = subprocess.run([*CLI, "create-topic", "wide", "--replication-factor", "3"],
                                  env=env, capture_output=True, text=True, timeout=120)
        assert too_many.returncode == 1 and "replication factor of 3" in too_many.stderr

        from kprod import Producer
        with Producer(bootstrap_servers=bootstrap) as producer:
            assert len(producer.partitions_for("orders")) == 3
            metadata = producer.send("orders", b"after SIGHUP", partition=2).get(60)
        assert (metadata.partition, metadata.offset) == (2, 0)
        [message] = consume(bootstrap, "orders", 1)
        assert (message.partition(), message.value()) == (2, b"after SIGHUP")
        assert _alive(pid)

        jvms = _jvm_children(pid)
        assert jvms
        stop = subprocess.run([*CLI, "stop"], env=env, capture_output=True, text=True,
                              timeout=90)
        assert stop.returncode == 0, stop.stderr
        assert _wait_dead(pid, 30) and all(_wait_dead(jvm, 10) for jvm in jvms)
        assert not (tmp_path / "cluster.json").exists()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_create_topic_without_a_cluster_says_how_to_start_one(tmp_path: Path) -> None:
    env = {**os.environ, "KPROD_CACHE_DIR": str(tmp_path)}
    res = subprocess.run([*CLI, "create-topic", "t"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 1
    assert "python -m kprod.testing start" in res.stderr and "--bootstrap" in res.stderr


@pytest.mark.kafka
def test_registry_cli_start_status_sigterm(tmp_path: Path) -> None:
    env = _isolated_cache(tmp_path, registry=True)
    nothing = subprocess.run([*REGISTRY_CLI, "stop"], env=env, capture_output=True, text=True)
    assert nothing.returncode == 0 and "no running schema registry" in nothing.stderr
    proc = subprocess.Popen([*REGISTRY_CLI, "start"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()    # printed once the registry answers
        assert url.startswith("http://127.0.0.1:") and url.endswith("/apis/ccompat/v7"), \
            proc.stderr.read() if proc.poll() is not None else url
        with urllib.request.urlopen(url + "/subjects", timeout=10) as response:
            assert response.status == 200 and response.read() == b"[]"
        status = subprocess.run([*REGISTRY_CLI, "status"], env=env, capture_output=True,
                                text=True)
        assert status.stdout.strip() == url
        again = subprocess.run([*REGISTRY_CLI, "start"], env=env, capture_output=True,
                               text=True, timeout=30)
        assert again.returncode == 1 and "already running" in again.stderr
        assert _ignores_sighup(proc.pid)
        jvms = _jvm_children(proc.pid)
        assert jvms
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert all(_wait_dead(jvm, 10) for jvm in jvms)
        assert not (tmp_path / "registry.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
