"""A real schema registry for tests: Apicurio Registry from Maven Central.

Apicurio Registry serves the Confluent Schema Registry API under
``/apis/ccompat/v7`` (:attr:`SchemaRegistry.url`). We run its published
distribution archive ``io.apicurio:apicurio-registry-app:<version>:tar.gz:all``
(a Quarkus legacy-jar: ``*-runner.jar`` + ``lib/``) with in-memory storage.

Why 2.6.13.Final by default: it runs on Java 17 and its archive resolves from
Central. (3.3.x needs Java 21; 3.0.9's parent POM is missing from Central, so
Maven can't resolve its archive.)

Cache layout (under :func:`~kprod.testing.artifacts.cache_dir`)::

    apicurio/<version>/app/             the unpacked archive
    apicurio/<version>/app/.complete    marker written after a full download
    apicurio/<version>/.lock            flock() for concurrent fetchers

The JVM runs in its own process group with ``PR_SET_PDEATHSIG`` (dies with the
thread that started it), and is stopped at interpreter exit / SIGTERM like the
Kafka nodes of :mod:`kprod.testing.cluster`.

From a shell, like the broker CLI::

    python -m kprod.testing.registry start --port 8081   # prints the URL for the client:
                                                         # http://127.0.0.1:8081/apis/ccompat/v7
    python -m kprod.testing.registry status   # prints it again
    python -m kprod.testing.registry stop
"""
from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from typing import BinaryIO

from .artifacts import _DEPENDENCY_PLUGIN, _file_lock, cache_dir, java_executable
from . import live
from .processes import die_with_parent, free_ports, port_open, tail
from .daemon import StateFile, serve, status, stop_running

__all__ = ["DEFAULT_APICURIO_VERSION", "SchemaRegistry", "SchemaRegistryStartError",
           "apicurio_dir"]

DEFAULT_APICURIO_VERSION = "2.6.13.Final"
_MARKER = ".complete"
_CCOMPAT = "/apis/ccompat/v7"


class SchemaRegistryStartError(RuntimeError):
    """Apicurio could not be fetched or did not become ready (message has the log tail)."""


def apicurio_version(version: str | None = None) -> str:
    return version or os.environ.get("KPROD_APICURIO_VERSION") or DEFAULT_APICURIO_VERSION


def apicurio_dir(version: str | None = None) -> pathlib.Path:
    """Directory of the unpacked Apicurio distribution, downloading it once with Maven."""
    version = apicurio_version(version)
    root = cache_dir() / "apicurio" / version
    app = root / "app"
    if (app / _MARKER).exists():
        return app
    root.mkdir(parents=True, exist_ok=True)
    with _file_lock(root / ".lock"):
        if not (app / _MARKER).exists():
            _download(version, root, app)
    return app


def _download(version: str, root: pathlib.Path, app: pathlib.Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise SchemaRegistryStartError("Maven ('mvn') is required to fetch Apicurio Registry")
    for stale in root.glob("app.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = root / f"app.partial-{os.getpid()}"
    artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
    # No pom in cwd: Maven runs the goal on its built-in standalone project.
    cmd = [mvn, "-B", "-q", f"{_DEPENDENCY_PLUGIN}:unpack", f"-Dartifact={artifact}",
           f"-DoutputDirectory={partial}"]
    proc = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        last_lines = "\n".join(proc.stdout.splitlines()[-30:])
        raise SchemaRegistryStartError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n"
                                       f"{last_lines}")
    if _launch_args(partial) is None:
        raise SchemaRegistryStartError(f"{artifact} unpacked into {partial} but it holds no "
                                       f"quarkus-run.jar or *-runner.jar")
    shutil.rmtree(app, ignore_errors=True)
    partial.rename(app)
    (app / _MARKER).write_text(f"{artifact} fetched {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")


def _launch_args(app: pathlib.Path) -> list[str] | None:
    """``-jar <runner>`` for a legacy-jar (2.x, 3.0) or fast-jar (3.1.5+) layout."""
    fast = app / "quarkus-run.jar"
    if fast.is_file():
        return ["-jar", str(fast)]
    runners = sorted(app.glob("*-runner.jar"))
    return ["-jar", str(runners[-1])] if runners else None


class SchemaRegistry:
    """A local Apicurio Registry (in-memory storage) on 127.0.0.1.

    ``with SchemaRegistry() as reg: reg.url`` -> ``http://127.0.0.1:<port>/apis/ccompat/v7``.
    Start it from a long-lived thread (normally the main thread): the JVM gets
    ``PR_SET_PDEATHSIG``, which the kernel ties to the starting thread.
    """

    def __init__(self, version: str | None = None, *, heap: str = "384m",
                 startup_timeout: float = 120.0, fast_startup: bool = True,
                 work_dir: str | os.PathLike[str] | None = None,
                 port: int | None = None) -> None:
        self.version = apicurio_version(version)
        self._fixed_port = port   # None: a free one
        self.heap = heap
        self.startup_timeout = startup_timeout
        self.fast_startup = fast_startup
        self._owns_work_dir = work_dir is None
        self._work_dir = pathlib.Path(work_dir) if work_dir is not None else None
        self._proc: subprocess.Popen | None = None
        self._log_handle: BinaryIO | None = None
        self.port: int | None = None
        self._lock = threading.RLock()

    # -- properties ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        if self.port is None:
            raise SchemaRegistryStartError("schema registry not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The Confluent-compatible API root (what schema registry clients take)."""
        return self.base_url + _CCOMPAT

    @property
    def log_path(self) -> pathlib.Path:
        assert self._work_dir is not None
        return self._work_dir / "registry.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(tail(self.log_path, n)) if self._work_dir else ""

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> "SchemaRegistry":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> "SchemaRegistry":
        with self._lock:
            if self.running:
                return self
            app = apicurio_dir(self.version)  # download outside the startup timeout
            launch = _launch_args(app)
            if launch is None:
                raise SchemaRegistryStartError(f"no runnable jar in {app}")
            if self._work_dir is None:
                self._work_dir = pathlib.Path(tempfile.mkdtemp(prefix="kprod-registry-"))
            self._work_dir.mkdir(parents=True, exist_ok=True)
            (self._work_dir / "tmp").mkdir(exist_ok=True)
            if self._fixed_port is not None and port_open(self._fixed_port):
                raise SchemaRegistryStartError(f"port {self._fixed_port} is in use (another "
                                               f"registry running?)")
            self.port = self._fixed_port or free_ports(1)[0]
            cmd = [java_executable(), f"-Xmx{self.heap}", "-Xms64m", "-XX:+UseSerialGC",
                   "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                   *(("-XX:TieredStopAtLevel=1",) if self.fast_startup else ()),
                   f"-Djava.io.tmpdir={self._work_dir / 'tmp'}",
                   "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={self.port}",
                   "-Dquarkus.management.enabled=false",  # 3.2+: health on its own port
                   "-Dquarkus.log.console.color=false",
                   *launch]
            self._log_handle = open(self.log_path, "ab")
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=self._log_handle,
                stderr=subprocess.STDOUT, cwd=self._work_dir, start_new_session=True,
                preexec_fn=die_with_parent, close_fds=True)
            live.register(self)       # stopped at exit like clusters
            try:
                self._wait_ready(time.monotonic() + self.startup_timeout)
            except BaseException:
                self.stop()
                raise
            return self

    def stop(self, timeout: float = 15.0) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                if proc.poll() is None:
                    try:
                        os.kill(proc.pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if self._log_handle is not None:
                self._log_handle.close()
                self._log_handle = None
            live.unregister(self)
            if self._owns_work_dir and self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)
                self._work_dir = None

    def _wait_ready(self, deadline: float) -> None:
        """Until ``GET /apis/ccompat/v7/subjects`` answers 200."""
        last: object = None
        while True:
            if self._proc is None or self._proc.poll() is not None:
                code = self._proc.returncode if self._proc else None
                raise SchemaRegistryStartError(
                    f"Apicurio Registry {self.version} exited with code {code} during startup; "
                    f"log tail ({self.log_path}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/subjects", timeout=2) as resp:
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            if time.monotonic() > deadline:
                raise SchemaRegistryStartError(
                    f"Apicurio Registry {self.version} not ready after "
                    f"{self.startup_timeout:.0f}s (last: {last}); log tail:\n{self.log_tail()}")
            time.sleep(0.2)

    def __repr__(self) -> str:
        return f"SchemaRegistry(apicurio {self.version}, {self.url if self.running else 'stopped'})"


STATE = StateFile("registry")


def main(argv: list[str] | None = None) -> int:
    """``python -m kprod.testing.registry start|stop|status``."""
    parser = argparse.ArgumentParser(
        prog="python -m kprod.testing.registry",
        description="A local schema registry (Apicurio, Confluent-compatible API). 'start' "
                    "prints the URL for schema.registry.url and waits for Ctrl+C, SIGTERM "
                    "or 'stop'.")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the registry and wait")
    start.add_argument("--version", default=None,
                       help=f"Apicurio version (default {apicurio_version()})")
    start.add_argument("--port", type=int, default=None,
                       help="HTTP port (default: a free one), e.g. 8081")
    stop = sub.add_parser("stop", help="stop the registry started by 'start'")
    stop.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("status", help="print the URL if running")
    args = parser.parse_args(argv)
    if args.command == "stop":
        return stop_running(STATE, args.timeout, "schema registry")
    if args.command == "status":
        return status(STATE)
    registry = SchemaRegistry(args.version, port=args.port)

    def _start() -> tuple[str, dict]:
        registry.start()
        return registry.url, {"version": registry.version}

    return serve(STATE, _start, registry.stop)


if __name__ == "__main__":
    sys.exit(main())
