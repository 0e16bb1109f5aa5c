"""What a kprod.testing Kafka node's files say: its server.properties (one table of
the settings a small test cluster needs, and why) and its meta.properties."""
from __future__ import annotations

import base64
import pathlib
import uuid
from typing import Any, Mapping, Sequence, Tuple

__all__ = ["random_cluster_id", "rewrite_meta_properties", "server_properties",
           "write_properties"]


def server_properties(*, node_id: int, address: str, controller_port: int,
                      data_dir: pathlib.Path, extra_listeners: Sequence[str],
                      extra_protocols: Sequence[str],
                      voters: Sequence[Tuple[int, int]]) -> dict[str, Any]:
    """A combined broker+controller node's settings. ``voters``: (node id, controller
    port) of every node; ``extra_listeners``/``extra_protocols``: the security
    listeners' ``NAME://host:port`` and ``NAME:PROTOCOL`` entries."""
    num_nodes = len(voters)
    multi = num_nodes > 1
    rf = min(num_nodes, 3)
    min_isr = 2 if rf >= 3 else 1
    protocol_map = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT", *extra_protocols]
    return {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.voters": ",".join(f"{n}@127.0.0.1:{port}" for n, port in voters),
        "listeners": ",".join([f"PLAINTEXT://{address}",
                               f"CONTROLLER://127.0.0.1:{controller_port}", *extra_listeners]),
        "advertised.listeners": ",".join([f"PLAINTEXT://{address}", *extra_listeners]),
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        # Always explicit: with SSL/SASL listeners CONTROLLER is no longer auto-mapped.
        "listener.security.protocol.map": ",".join(protocol_map),
        "log.dirs": data_dir,
        # Tests create topics explicitly; silent auto-creation hides bugs.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        # A test broker keeps every record: tests write old timestamps, and the
        # default 7-day time retention would delete them (active segment included)
        # at the next retention check, between a test's produce and its read-back.
        "log.retention.ms": -1,
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "unclean.leader.election.enable": "false",
        # Internal topics default to RF=3; a single node could never host them.
        "offsets.topic.replication.factor": rf,
        "offsets.topic.num.partitions": 5,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 5,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        # Small box: fewer threads, and don't allocate the 128 MiB cleaner buffer on heap.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "background.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
        # Fast failure detection: fence a dead broker within ~3 s instead of 9 s.
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 3000 if multi else 9000,
        "controller.quorum.election.timeout.ms": 1000,
        "controller.quorum.fetch.timeout.ms": 2000,
        "replica.lag.time.max.ms": 10000,
        "controlled.shutdown.enable": "true",
    }


def write_properties(path: pathlib.Path, props: Mapping[str, Any]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def random_cluster_id() -> str:
    # Same format as Kafka's Uuid.randomUuid().toString(): URL-safe base64, no padding,
    # never starting with '-' (it would look like a CLI flag).
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def rewrite_meta_properties(path: pathlib.Path, node_id: int) -> None:
    """A node whose storage was cloned from node 1's: its own node.id and directory.id."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith("node.id="):
            line = f"node.id={node_id}"
        elif line.startswith("directory.id="):  # must be unique per log dir
            line = f"directory.id={random_cluster_id()}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
