"""Shopify's Toxiproxy: a TCP proxy that injects network faults, for the fault tests.

* :func:`server_binary` installs the server on first use with ``go install`` (the Go
  module proxy is the only source; no Docker, no prebuilt download) into
  ``<cache>/toxiproxy/<version>/server`` (cache as in :mod:`kprod.testing.artifacts`).
* :class:`ToxiproxyServer` runs one server on 127.0.0.1 (a free port), dying with us.
* :class:`Toxiproxy` / :class:`Proxy` drive its HTTP API (stdlib ``urllib`` only):
  proxies (create, delete, enable, disable) and toxics (latency with jitter,
  bandwidth, timeout = black hole, reset_peer, slicer, limit_data, slow_close).
* :class:`BrokerProxies` puts one proxy in front of every broker of a
  :class:`~kprod.testing.KafkaCluster` (``KafkaCluster(toxiproxy=True)``): each broker
  gets an extra client listener ``PROXIED`` whose *advertised* address is its proxy,
  so a client bootstrapped on :attr:`BrokerProxies.bootstrap_servers` reaches every
  broker only through the proxies. Inter-broker, controller and the test oracles'
  traffic stay on the direct PLAINTEXT listener: disabling a proxy partitions that
  broker away from the client only, and it stays leader for the others.

Toxic semantics (toxiproxy v2.5.0): ``stream="upstream"`` is client -> broker,
``"downstream"`` broker -> client; a toxic applies to the proxy's existing and new
connections; ``toxicity`` is the chance a connection gets it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

from .artifacts import cache_dir
from .processes import die_with_parent

__all__ = [
    "PROXIED_LISTENER",
    "TOXIPROXY_VERSION",
    "BrokerProxies",
    "Proxy",
    "Toxiproxy",
    "ToxiproxyError",
    "ToxiproxyServer",
    "server_binary",
]

TOXIPROXY_VERSION = "v2.5.0"
_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server"
PROXIED_LISTENER = "PROXIED"
_INSTALL_TIMEOUT = 900.0   # a first `go install` compiles ~20 modules; slow on a busy box


class ToxiproxyError(RuntimeError):
    """Toxiproxy could not be installed or started, or its API refused a request."""


# -- installation --------------------------------------------------------------------------

def _go_executable() -> str:
    go = shutil.which("go") or next(
        (p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go") if os.access(p, os.X_OK)),
        None)
    if go is None:
        raise ToxiproxyError("toxiproxy is installed with `go install`, but no Go toolchain "
                             "is on PATH (or in /usr/local/go/bin)")
    return go


def server_binary(version: str = TOXIPROXY_VERSION) -> pathlib.Path:
    """Path of the toxiproxy server, installed with ``go install`` on first use.

    Concurrent callers (parallel test sessions) serialize on a file lock; the binary
    appears atomically (installed into a temp dir, then renamed).
    """
    root = cache_dir() / "toxiproxy" / version
    binary = root / "server"
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.is_file():
            return binary
        staging = pathlib.Path(tempfile.mkdtemp(prefix=".install-", dir=root))
        env = dict(os.environ, GOBIN=str(staging), GO111MODULE="on", CGO_ENABLED="0")
        env.pop("GOFLAGS", None)   # e.g. -mod=vendor from the caller would break this
        try:
            proc = subprocess.run([_go_executable(), "install", f"{_MODULE}@{version}"],
                                  check=False, env=env, cwd=staging, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  timeout=_INSTALL_TIMEOUT)
            built = staging / "server"
            if proc.returncode != 0 or not built.is_file():
                raise ToxiproxyError(f"go install {_MODULE}@{version} failed (exit "
                                     f"{proc.returncode}):\n{proc.stdout.strip()[-3000:]}")
            os.replace(built, binary)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return binary


# -- the HTTP API --------------------------------------------------------------------------

class Toxiproxy:
    """Client of one toxiproxy server's HTTP API (``http://127.0.0.1:<port>``)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise ToxiproxyError(f"toxiproxy {method} {path}: HTTP {exc.code} {detail}") \
                from None
        return json.loads(text) if text.strip() else None

    def version(self) -> str:
        req = urllib.request.Request(self.url + "/version")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return resp.read().decode().strip()

    def create_proxy(self, name: str, listen: str, upstream: str,
                     enabled: bool = True) -> Proxy:
        self.request("POST", "/proxies", {"name": name, "listen": listen,
                                          "upstream": upstream, "enabled": enabled})
        return Proxy(self, name, listen, upstream)

    def proxy(self, name: str) -> Proxy:
        info = self.request("GET", f"/proxies/{name}")
        return Proxy(self, name, info["listen"], info["upstream"])

    def proxies(self) -> dict[str, dict[str, Any]]:
        return self.request("GET", "/proxies")

    def delete_proxy(self, name: str) -> None:
        self.request("DELETE", f"/proxies/{name}")

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self.request("POST", "/reset")


class Proxy:
    """One proxy: ``listen`` (what clients dial) -> ``upstream`` (the real server)."""

    def __init__(self, api: Toxiproxy, name: str, listen: str, upstream: str) -> None:
        self.api, self.name, self.listen, self.upstream = api, name, listen, upstream

    def __repr__(self) -> str:
        return f"Proxy({self.name!r}, {self.listen} -> {self.upstream})"

    # enabled = listening; disabling closes every connection and refuses new ones
    @property
    def enabled(self) -> bool:
        return bool(self.api.request("GET", f"/proxies/{self.name}")["enabled"])

    def enable(self) -> None:
        self.api.request("POST", f"/proxies/{self.name}", {"enabled": True})

    def disable(self) -> None:
        self.api.request("POST", f"/proxies/{self.name}", {"enabled": False})

    @contextlib.contextmanager
    def disabled(self) -> Iterator[Proxy]:
        self.disable()
        try:
            yield self
        finally:
            self.enable()

    # toxics
    def add_toxic(self, type: str, stream: str = "downstream", toxicity: float = 1.0,
                  name: str | None = None, **attributes: Any) -> str:
        """Add a toxic; returns its name (default ``<type>_<stream>``)."""
        if stream not in ("upstream", "downstream"):
            raise ValueError(f"stream must be 'upstream' or 'downstream', got {stream!r}")
        name = name or f"{type}_{stream}"
        self.api.request("POST", f"/proxies/{self.name}/toxics",
                         {"name": name, "type": type, "stream": stream,
                          "toxicity": toxicity, "attributes": attributes})
        return name

    def remove_toxic(self, name: str) -> None:
        self.api.request("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def toxics(self) -> list[dict[str, Any]]:
        return self.api.request("GET", f"/proxies/{self.name}/toxics")

    def remove_all_toxics(self) -> None:
        for toxic in self.toxics():
            self.remove_toxic(toxic["name"])

    @contextlib.contextmanager
    def toxic(self, type: str, stream: str = "downstream", toxicity: float = 1.0,
              **attributes: Any) -> Iterator[str]:
        """``with proxy.toxic("latency", latency=200): ...``: removed on exit."""
        name = self.add_toxic(type, stream, toxicity, **attributes)
        try:
            yield name
        finally:
            self.remove_toxic(name)

    # the toxics of the tests, with their attributes spelled out
    def latency(self, latency_ms: int, jitter_ms: int = 0, stream: str = "downstream") -> str:
        """Delay each chunk by ``latency_ms`` +- ``jitter_ms`` (order is kept)."""
        return self.add_toxic("latency", stream, latency=latency_ms, jitter=jitter_ms)

    def bandwidth(self, rate_kb_per_s: int, stream: str = "upstream") -> str:
        """Cap each connection at ``rate_kb_per_s`` KB/s (toxiproxy's KB = 1000 bytes)."""
        return self.add_toxic("bandwidth", stream, rate=rate_kb_per_s)

    def black_hole(self, close_after_ms: int = 0, stream: str = "upstream") -> str:
        """The ``timeout`` toxic: drop all data; close after ``close_after_ms`` (0: never,
        a half-open connection until the toxic is removed)."""
        return self.add_toxic("timeout", stream, timeout=close_after_ms)

    def reset_peer(self, after_ms: int = 0, stream: str = "downstream") -> str:
        """On the next data, wait ``after_ms`` and close with TCP RST (SO_LINGER 0)."""
        return self.add_toxic("reset_peer", stream, timeout=after_ms)

    def slicer(self, average_size: int, size_variation: int = 0, delay_us: int = 0,
               stream: str = "downstream") -> str:
        """Cut data into ~``average_size``-byte pieces, ``delay_us`` apart."""
        return self.add_toxic("slicer", stream, average_size=average_size,
                              size_variation=size_variation, delay=delay_us)

    def limit_data(self, limit_bytes: int, stream: str = "downstream") -> str:
        """Close a connection once ``limit_bytes`` have passed (mid-request, mid-response)."""
        return self.add_toxic("limit_data", stream, bytes=limit_bytes)


# -- the server process --------------------------------------------------------------------

def free_ports(count: int, exclude: Iterable[int] = ()) -> list[int]:
    """``count`` distinct free 127.0.0.1 ports, none of them in ``exclude``."""
    taken = set(exclude)
    socks: list[socket.socket] = []
    try:
        while len(socks) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] in taken:
                s.close()
                continue
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ToxiproxyServer:
    """One toxiproxy server on 127.0.0.1; ``with ToxiproxyServer(log) as api: ...``."""

    def __init__(self, log_path: os.PathLike[str] | str | None = None,
                 port: int | None = None, startup_timeout: float = 30.0) -> None:
        self.log_path = pathlib.Path(log_path) if log_path else None
        self.port = port
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.api: Toxiproxy | None = None
        self._log: Any = None

    def __enter__(self) -> Toxiproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Toxiproxy:
        if self.api is not None:
            return self.api
        binary = server_binary()
        self.port = self.port or free_ports(1)[0]
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        # A fixed seed: the toxics' random parts (jitter, toxicity) repeat run to run.
        self.proc = subprocess.Popen(
            [str(binary), "-host", "127.0.0.1", "-port", str(self.port), "-seed", "1"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent, close_fds=True)
        api = Toxiproxy(f"http://127.0.0.1:{self.port}")
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise ToxiproxyError(f"toxiproxy exited with code {self.proc.returncode} "
                                     f"at startup (log: {self.log_path})")
            try:
                api.version()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ToxiproxyError(f"toxiproxy not answering on port {self.port} "
                                         f"after {self.startup_timeout:.0f} s") from None
                time.sleep(0.05)
        self.api = api
        return api

    def stop(self) -> None:
        proc, self.proc, self.api = self.proc, None, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None


# -- one proxy per broker --------------------------------------------------------------------

class BrokerProxies:
    """Toxiproxy in front of each broker's ``PROXIED`` client listener.

    Made by :class:`~kprod.testing.KafkaCluster` with ``toxiproxy=True``; ports are
    fixed at construction so that a restarted broker comes back behind the same proxy.
    """

    def __init__(self, node_ids: Iterable[int], work_dir: pathlib.Path,
                 taken_ports: Iterable[int] = ()) -> None:
        ids = list(node_ids)
        ports = free_ports(2 * len(ids) + 1, exclude=taken_ports)
        self.server_port = ports.pop()
        # node id -> (the broker's PROXIED listener port, the proxy's port)
        self.ports: dict[int, tuple] = {i: (ports[2 * n], ports[2 * n + 1])
                                        for n, i in enumerate(ids)}
        self.server = ToxiproxyServer(work_dir / "toxiproxy.log", port=self.server_port)
        self._proxies: dict[int, Proxy] = {}

    @property
    def api(self) -> Toxiproxy:
        if self.server.api is None:
            raise ToxiproxyError("toxiproxy is not running")
        return self.server.api

    def start(self) -> BrokerProxies:
        api = self.server.start()
        for node_id, (broker_port, proxy_port) in self.ports.items():
            self._proxies[node_id] = api.create_proxy(
                f"broker-{node_id}", f"127.0.0.1:{proxy_port}", f"127.0.0.1:{broker_port}")
        return self

    def stop(self) -> None:
        self.server.stop()
        self._proxies.clear()

    def add_listener(self, node_id: int, props: dict[str, Any]) -> None:
        """Add the PROXIED listener to one node's ``server.properties`` entries:
        bound on the broker's own port, advertised as the proxy's."""
        broker_port, proxy_port = self.ports[node_id]
        props["listeners"] += f",{PROXIED_LISTENER}://127.0.0.1:{broker_port}"
        props["advertised.listeners"] += f",{PROXIED_LISTENER}://127.0.0.1:{proxy_port}"
        props["listener.security.protocol.map"] += f",{PROXIED_LISTENER}:PLAINTEXT"

    @property
    def bootstrap_servers(self) -> str:
        """What a client under test bootstraps on: every broker, through its proxy."""
        return ",".join(f"127.0.0.1:{proxy_port}" for _, proxy_port in self.ports.values())

    def proxy(self, node_id: int) -> Proxy:
        try:
            return self._proxies[node_id]
        except KeyError:
            raise KeyError(f"no proxy for broker {node_id}; brokers are "
                           f"{sorted(self.ports)}") from None

    def all(self) -> list[Proxy]:
        return list(self._proxies.values())

    def heal(self) -> None:
        """Every proxy enabled, every toxic gone."""
        self.api.reset()
