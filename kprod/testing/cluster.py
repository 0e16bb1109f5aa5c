"""A real Apache Kafka cluster (KRaft, combined broker+controller nodes) on 127.0.0.1.

Each node is a separate JVM started from the Maven-fetched jars (see
:mod:`kprod.testing.artifacts`). Nodes run in their own process group and, on
Linux, get ``PR_SET_PDEATHSIG`` so they die with the Python process; live
clusters are also stopped at interpreter exit and on SIGTERM (handlers installed when
the first cluster starts, not on import). Topics are created and checked with
:class:`kprod.admin.AdminClient`.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .artifacts import java_executable, kafka_libs_dir, kafka_version, log_config_args
from . import live
from .node_config import (
    random_cluster_id, rewrite_meta_properties, server_properties, write_properties,
)
from . import security as _security
from .processes import count_lines, die_with_parent, error_lines, free_ports, port_open, tail
from .toxiproxy import PROXIED_LISTENER, BrokerProxies

if TYPE_CHECKING:
    from kprod.admin import AdminClient

__all__ = ["KafkaCluster", "KafkaClusterError"]

_STARTED_LINE = "Kafka Server started"  # logged by KafkaRaftServer once broker+controller run
_DEFAULT_JVM_OPTIONS = (
    "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent", "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
    "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
)


class KafkaClusterError(RuntimeError):
    """A node failed to start, stop or become ready; the message carries its log tail."""


@dataclass
class _Node:
    node_id: int
    port: int  # PLAINTEXT, what clients use
    controller_port: int
    dir: pathlib.Path
    proc: subprocess.Popen | None = None
    paused: bool = False
    started_lines_seen: int = 0  # "Kafka Server started" count in server.log at last launch
    extra_ports: dict = field(default_factory=dict)  # security listener name -> port
    _log_handle: Any = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def server_log(self) -> pathlib.Path:
        return self.dir / "logs" / "server.log"

    @property
    def stdout_log(self) -> pathlib.Path:
        return self.dir / "logs" / "stdout.log"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class KafkaCluster:
    """One or more local KRaft Kafka nodes for tests and benchmarks.

    Use as a context manager (``with KafkaCluster(brokers=3) as kc: ...``) or call
    :meth:`start` / :meth:`stop` yourself. Every node is a combined
    broker+controller; with 3 nodes internal topics use RF=3 and
    ``min.insync.replicas=2``.

    :param brokers: number of nodes (1 or 3 are the tuned cases; any N>=1 works).
    :param version: Kafka version (default ``$KPROD_KAFKA_VERSION`` or the pinned 4.1.x).
    :param work_dir: where node data and logs go; a temp dir (deleted on stop) if None.
    :param broker_config: extra ``server.properties`` entries, overriding the defaults.
    :param heap: max heap per node JVM.
    :param startup_timeout: seconds to wait for nodes to become ready.
    :param fast_startup: run the JVMs with the C1 JIT only (``-XX:TieredStopAtLevel=1``):
        startup roughly halves on a small box, but peak throughput drops, so pass
        False for benchmarks.
    :param listeners: extra client listeners besides PLAINTEXT, any of ``"SSL"``,
        ``"MTLS"`` (SSL requiring a client certificate), ``"SASL_PLAINTEXT"`` and
        ``"SASL_SSL"`` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). Certificates are made in
        the work dir (:attr:`tls`, needs ``cryptography``); users are :attr:`sasl_users`.
        Inter-broker and controller traffic stay PLAINTEXT. Addresses:
        :meth:`bootstrap_for`.
    :param sasl_users: ``{mechanism: {user: password}}`` replacing the default users.
    :param port: the PLAINTEXT port of the first broker (default: a free one), e.g. 9092
        so that examples written for ``localhost:9092`` run as written.
    :param classpath: extra classpath entries (jars or class directories) for the node
        JVMs after Kafka's own, e.g. a test plugin named in ``broker_config``.
    :param toxiproxy: also start Toxiproxy (installed with ``go install`` on first use)
        with one proxy in front of every broker's extra ``PROXIED`` listener, which
        advertises the proxy's address: :attr:`proxies` (a
        :class:`~kprod.testing.toxiproxy.BrokerProxies`) injects the faults,
        ``bootstrap_for("PROXIED")`` is what the client under test uses.
    """

    def __init__(self, brokers: int = 1, version: str | None = None,
                 work_dir: str | os.PathLike[str] | None = None,
                 broker_config: Mapping[str, Any] | None = None, *,
                 heap: str = "512m", jvm_options: tuple[str, ...] = _DEFAULT_JVM_OPTIONS,
                 startup_timeout: float = 120.0, fast_startup: bool = True,
                 listeners: tuple[str, ...] | list[str] = (),
                 sasl_users: Mapping[str, Mapping[str, str]] | None = None,
                 port: int | None = None,
                 classpath: Sequence[str | os.PathLike[str]] = (),
                 toxiproxy: bool = False) -> None:
        if brokers < 1:
            raise ValueError("brokers must be >= 1")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535, got {port}")
        self._port = port
        unknown = [name for name in listeners if name not in _security.LISTENERS]
        if unknown:
            raise ValueError(f"unknown listeners {unknown}; known: {list(_security.LISTENERS)}")
        self._listeners = tuple(dict.fromkeys(listeners))
        self.sasl_users = {m: dict(u) for m, u in (sasl_users or _security.DEFAULT_USERS).items()}
        self.tls: _security.TlsFiles | None = None
        self.version = kafka_version(version)
        self.heap = heap
        self.jvm_options = tuple(jvm_options) + (
            ("-XX:TieredStopAtLevel=1",) if fast_startup else ())
        self.startup_timeout = startup_timeout
        self._num = brokers
        self._broker_config = dict(broker_config or {})
        self._classpath = os.pathsep.join(str(p) for p in classpath)
        self._owns_work_dir = work_dir is None
        self._work_dir = pathlib.Path(work_dir) if work_dir is not None else None
        self._nodes: dict[int, _Node] = {}
        self._lock = threading.RLock()
        self._want_toxiproxy = toxiproxy
        self.proxies: BrokerProxies | None = None

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self) -> "KafkaCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return bool(self._nodes)

    def start(self) -> "KafkaCluster":
        """Format storage, launch all nodes together and wait until every broker is ready."""
        with self._lock:
            if self._nodes:
                return self
            libs = kafka_libs_dir(self.version)  # download outside of any timeout
            if self._work_dir is None:
                self._work_dir = pathlib.Path(tempfile.mkdtemp(prefix="kprod-kafka-"))
            self._work_dir.mkdir(parents=True, exist_ok=True)
            per_node = 2 + len(self._listeners)
            ports = free_ports(per_node * self._num)
            if self._port is not None:
                if self._port in ports[1:] or port_open(self._port):
                    raise KafkaClusterError(f"port {self._port} is in use (another Kafka "
                                            f"running?); stop it or choose another port")
                ports[0] = self._port
            for i in range(self._num):
                node_id = i + 1
                mine = ports[per_node * i:per_node * (i + 1)]
                self._nodes[node_id] = _Node(node_id, mine[0], mine[1],
                                             self._work_dir / f"node{node_id}",
                                             extra_ports=dict(zip(self._listeners, mine[2:])))
            if any(_security.LISTENERS[n][0] in ("SSL", "SASL_SSL") for n in self._listeners):
                self.tls = _security.generate_tls(self._work_dir / "tls")
            live.register(self)
            try:
                self._start_proxies(ports)
                cluster_id = random_cluster_id()
                for node in self._nodes.values():
                    self._write_config(node)
                self._format_all(libs, cluster_id)
                for node in self._nodes.values():  # together: brokers block until quorum exists
                    self._launch(node)
                deadline = time.monotonic() + self.startup_timeout
                for node in self._nodes.values():
                    self._wait_started(node, deadline)
                self._wait_brokers_registered(set(self._nodes), deadline)
            except BaseException:
                self.stop()
                raise
            return self

    def stop(self, timeout: float = 20.0) -> None:
        """Stop all nodes (SIGTERM together, SIGKILL stragglers) and clean up. Idempotent."""
        with self._lock:
            nodes = list(self._nodes.values())
            for node in nodes:
                _signal(node, signal.SIGCONT)  # a paused JVM can't handle SIGTERM
                _signal(node, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            for node in nodes:
                _reap(node, max(0.0, deadline - time.monotonic()))
            self._nodes.clear()
            if self.proxies is not None:
                self.proxies.stop()
                self.proxies = None
            live.unregister(self)
            if self._owns_work_dir and self._work_dir is not None:
                shutil.rmtree(self._work_dir, ignore_errors=True)
                self._work_dir = None

    # -- addresses ----------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:port,..."`` for every node (including stopped ones)."""
        self._require_running()
        return ",".join(n.address for n in self._nodes.values())

    def bootstrap_for(self, listener: str) -> str:
        """``"127.0.0.1:port,..."`` of an extra listener (``"SSL"``, ``"SASL_SSL"``, ...)."""
        self._require_running()
        if listener == "PLAINTEXT":
            return self.bootstrap_servers
        if listener == PROXIED_LISTENER and self.proxies is not None:
            return self.proxies.bootstrap_servers
        if listener not in self._listeners:
            raise KeyError(f"no {listener} listener; this cluster has "
                           f"{['PLAINTEXT', *self._listeners]}")
        return ",".join(f"127.0.0.1:{n.extra_ports[listener]}" for n in self._nodes.values())

    @property
    def listeners(self) -> tuple[str, ...]:
        return ("PLAINTEXT",) + self._listeners

    @property
    def broker_ids(self) -> list[int]:
        """Node ids, ``[1]`` or ``[1, 2, 3]``."""
        return list(self._nodes)

    @property
    def work_dir(self) -> pathlib.Path | None:
        return self._work_dir

    def broker_address(self, broker_id: int) -> str:
        """``"127.0.0.1:port"`` of one broker."""
        return self._node(broker_id).address

    def pid(self, broker_id: int) -> int | None:
        """OS pid of a node's JVM, None if it isn't running."""
        node = self._node(broker_id)
        return node.proc.pid if node.proc is not None and node.alive() else None

    # -- fault injection ----------------------------------------------------

    def stop_broker(self, broker_id: int, timeout: float = 60.0) -> None:
        """Graceful stop (SIGTERM, controlled shutdown); SIGKILL after ``timeout``."""
        node = self._node(broker_id)
        _signal(node, signal.SIGCONT)
        _signal(node, signal.SIGTERM)
        _reap(node, timeout)

    def kill_broker(self, broker_id: int) -> None:
        """Hard crash: SIGKILL, no controlled shutdown."""
        node = self._node(broker_id)
        _signal(node, signal.SIGKILL)
        _reap(node, 10.0)

    def pause_broker(self, broker_id: int) -> None:
        """Freeze the JVM (SIGSTOP), simulating a hung broker or a network stall."""
        node = self._node(broker_id)
        _signal(node, signal.SIGSTOP)
        node.paused = True
        _wait_process_state(node, "T")  # signals are async; return once it's really stopped

    def resume_broker(self, broker_id: int) -> None:
        """Undo :meth:`pause_broker` (SIGCONT)."""
        node = self._node(broker_id)
        _signal(node, signal.SIGCONT)
        node.paused = False
        _wait_process_state(node, "RSD")

    def start_broker(self, broker_id: int, timeout: float | None = None) -> None:
        """Restart a stopped or killed node on its old ports and data; wait until it's registered.

        Call it (like ``start()``) from a long-lived thread, normally the main one: the
        JVM gets PR_SET_PDEATHSIG, which Linux ties to the *thread* that started it, so
        a node launched from a short-lived helper thread dies when that thread ends.
        """
        node = self._node(broker_id)
        if node.alive():
            raise KafkaClusterError(f"broker {broker_id} is already running")
        self._launch(node)
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        self._wait_started(node, deadline)
        self._wait_brokers_registered({broker_id}, deadline)

    # -- topics -------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     configs: Mapping[str, Any] | None = None, timeout: float = 30.0) -> str:
        """Create a topic (with :class:`kprod.admin.AdminClient`) and wait until every
        live broker sees it with all leaders elected, and every leader serves it."""
        with self._admin() as admin:
            admin.create_topic(name, partitions, replication_factor, configs, wait=False,
                               timeout=timeout)
            self.wait_for_topic(name, partitions, timeout=timeout)
            # Metadata can name a leader a moment before that broker has taken the
            # leadership over (KRaft publishes the image first), and a raw Produce then
            # gets NOT_LEADER_OR_FOLLOWER: ListOffsets retries until each leader answers.
            admin.list_offsets(name, timeout=timeout)
        return name

    def wait_for_topic(self, name: str, partitions: int | None = None, *, in_sync: bool = False,
                       timeout: float = 30.0) -> None:
        """Wait until each live broker's metadata has ``name`` with a leader for every partition.

        With ``in_sync=True`` also wait until every partition's ISR equals its replica set
        (e.g. after a restarted broker caught up).
        """
        with self._admin() as admin:
            def ready() -> bool:
                for node in self._live_nodes():
                    topic = admin.describe_topics([name], node=node.node_id, timeout=5)[name]
                    if not topic.partitions:
                        return False
                    if partitions is not None and len(topic.partitions) != partitions:
                        return False
                    for p in topic.partitions:
                        if p.leader is None:
                            return False
                        if in_sync and sorted(p.isr) != sorted(p.replicas):
                            return False
                return True

            self._wait_until(ready, timeout, f"topic {name!r} not ready on all brokers")

    def admin(self, **config: Any) -> "AdminClient":
        """A :class:`kprod.admin.AdminClient` bootstrapped on the whole cluster (close it,
        or use it as a context manager); ``config`` adds admin settings."""
        from kprod.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.bootstrap_servers, **config})

    # -- diagnostics ----------------------------------------------------------

    def log_tail(self, broker_id: int, n: int = 50) -> str:
        """Last ``n`` lines of a node's ``server.log`` plus anything the JVM wrote to stdout."""
        node = self._node(broker_id)
        parts = []
        for path in (node.server_log, node.stdout_log):
            lines = tail(path, n)
            if lines:
                parts.append(f"--- {path} (last {len(lines)} lines) ---\n" + "\n".join(lines))
        return "\n".join(parts) or f"(no logs yet for broker {broker_id})"

    # -- internals ----------------------------------------------------------

    def _failure_report(self, node: _Node) -> str:
        """Log tail plus the first ERROR lines: the cause is often far above the tail."""
        errors = error_lines(node.server_log)
        head = ("--- first errors in server.log ---\n" + "\n".join(errors) + "\n") if errors else ""
        return head + self.log_tail(node.node_id, 40)

    def _node(self, broker_id: int) -> _Node:
        self._require_running()
        try:
            return self._nodes[broker_id]
        except KeyError:
            raise KeyError(f"no broker {broker_id}; ids are {self.broker_ids}") from None

    def _require_running(self) -> None:
        if not self._nodes:
            raise KafkaClusterError("cluster is not started")

    def _live_nodes(self) -> list[_Node]:
        return [n for n in self._nodes.values() if n.alive() and not n.paused]

    def _admin(self) -> "AdminClient":
        # Short request timeouts: a broker that is restarting is asked again soon.
        return self.admin(**{"request.timeout.ms": 5000})

    def _write_config(self, node: _Node) -> None:
        shutil.rmtree(node.dir / "data", ignore_errors=True)  # always a fresh cluster
        (node.dir / "data").mkdir(parents=True)
        (node.dir / "logs").mkdir(exist_ok=True)
        (node.dir / "tmp").mkdir(exist_ok=True)
        extra = [f"{name}://127.0.0.1:{node.extra_ports[name]}" for name in self._listeners]
        props = server_properties(
            node_id=node.node_id, address=node.address, controller_port=node.controller_port,
            data_dir=node.dir / "data", extra_listeners=extra,
            extra_protocols=[f"{name}:{_security.LISTENERS[name][0]}"
                             for name in self._listeners],
            voters=[(n.node_id, n.controller_port) for n in self._nodes.values()])
        if self._listeners:
            props.update(_security.listener_properties(self._listeners, node.extra_ports,
                                                       self.tls, self.sasl_users))
        if self.proxies is not None:
            self.proxies.add_listener(node.node_id, props)
        props.update(self._broker_config)
        write_properties(node.dir / "server.properties", props)

    def _start_proxies(self, taken_ports: list[int]) -> None:
        """``toxiproxy=True``: the proxies exist before the brokers' configs are written."""
        if self._want_toxiproxy and self.proxies is None:
            assert self._work_dir is not None
            self.proxies = BrokerProxies(self._nodes, self._work_dir, taken_ports).start()

    def _format_all(self, libs: pathlib.Path, cluster_id: str) -> None:
        """Format node 1 with Kafka's StorageTool, then clone its storage for the others.

        A StorageTool run is a whole JVM (seconds on a 2-core box); the formatted
        dir differs between nodes only in meta.properties' node.id/directory.id.
        No --standalone: the static controller.quorum.voters is set.
        """
        first, *others = self._nodes.values()
        cmd = [java_executable(), "-Xmx256m", "-XX:TieredStopAtLevel=1",
               *log_config_args(self.version, "tools"), "-cp", self._java_classpath(libs),
               "kafka.tools.StorageTool", "format", "-t", cluster_id,
               "-c", str(first.dir / "server.properties")]
        if any(_security.LISTENERS[n][0].startswith("SASL") for n in self._listeners):
            cmd += _security.scram_format_args(self.sasl_users)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=120)
        if proc.returncode != 0:
            raise KafkaClusterError(f"formatting storage failed (exit {proc.returncode}):\n"
                                    f"{proc.stdout.strip()[-4000:]}")
        for node in others:
            shutil.rmtree(node.dir / "data", ignore_errors=True)
            shutil.copytree(first.dir / "data", node.dir / "data")
            rewrite_meta_properties(node.dir / "data" / "meta.properties", node.node_id)

    def _java_classpath(self, libs: pathlib.Path) -> str:
        return str(libs / "*") + (os.pathsep + self._classpath if self._classpath else "")

    def _launch(self, node: _Node) -> None:
        libs = kafka_libs_dir(self.version)
        cmd = [java_executable(), f"-Xmx{self.heap}", "-Xms64m", *self.jvm_options,
               f"-Djava.io.tmpdir={node.dir / 'tmp'}",  # zstd/snappy unpack native libs here
               f"-Dkafka.logs.dir={node.dir / 'logs'}",
               *log_config_args(self.version, "broker"),
               "-cp", self._java_classpath(libs), "kafka.Kafka",
               str(node.dir / "server.properties")]
        node.started_lines_seen = count_lines(node.server_log, _STARTED_LINE)
        if node._log_handle is not None:
            node._log_handle.close()
        node._log_handle = open(node.stdout_log, "ab")
        node.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=node._log_handle, stderr=subprocess.STDOUT,
            cwd=node.dir, start_new_session=True,  # own process group: Ctrl+C isn't forwarded
            preexec_fn=die_with_parent, close_fds=True)
        node.paused = False

    def _wait_started(self, node: _Node, deadline: float) -> None:
        """Wait for the 'Kafka Server started' line of this launch and an open client port."""
        while True:
            if not node.alive():
                code = node.proc.returncode if node.proc else None
                raise KafkaClusterError(
                    f"broker {node.node_id} exited with code {code} during startup\n"
                    f"{self._failure_report(node)}")
            if (count_lines(node.server_log, _STARTED_LINE) > node.started_lines_seen
                    and port_open(node.port)):
                return
            if time.monotonic() > deadline:
                raise KafkaClusterError(
                    f"broker {node.node_id} not ready after {self.startup_timeout:.1f}s\n"
                    f"{self._failure_report(node)}")
            time.sleep(0.1)

    def _wait_brokers_registered(self, ids: set[int], deadline: float) -> None:
        """Wait until the cluster metadata lists ``ids`` as (unfenced) brokers."""
        if self._num == 1:
            return  # "started" already implies the sole broker is unfenced
        with self._admin() as admin:
            def registered() -> bool:
                for node in self._live_nodes():   # each broker's own view
                    seen = admin.describe_cluster(node=node.node_id, timeout=5).brokers
                    if not ids <= {b.node_id for b in seen}:
                        return False
                return True

            self._wait_until(registered, max(1.0, deadline - time.monotonic()),
                             f"brokers {sorted(ids)} not visible in cluster metadata")

    def _wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except Exception as exc:  # transient: broker restarting, metadata timeout, ...
                last_error = exc
            time.sleep(0.2)
        tails = "\n".join(self.log_tail(i, 20) for i in self._nodes)
        raise KafkaClusterError(f"{what} after {timeout:.0f}s (last error: {last_error})\n{tails}")

    def __repr__(self) -> str:
        state = self.bootstrap_servers if self._nodes else "stopped"
        return f"KafkaCluster(brokers={self._num}, version={self.version!r}, {state})"


# -- process helpers -----------------------------------------------------------

def _signal(node: _Node, sig: int) -> None:
    if node.proc is not None and node.alive():
        try:
            os.kill(node.proc.pid, sig)
        except ProcessLookupError:
            pass


def _wait_process_state(node: _Node, states: str, timeout: float = 5.0) -> None:
    """Wait until /proc reports one of ``states`` for the JVM (no-op without procfs)."""
    if node.proc is None:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{node.proc.pid}/stat") as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in states:
            return
        time.sleep(0.01)


def _reap(node: _Node, timeout: float) -> None:
    """Wait for a node's JVM to exit, SIGKILLing it after ``timeout``."""
    if node.proc is None:
        return
    try:
        node.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        node.proc.kill()
        node.proc.wait()
    node.paused = False
    if node._log_handle is not None:
        node._log_handle.close()
        node._log_handle = None


def stop_all_clusters() -> None:
    """Stop every cluster (and schema registry) this process started (atexit and the
    SIGTERM handler do it too)."""
    live.stop_all()
