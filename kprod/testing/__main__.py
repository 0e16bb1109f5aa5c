"""``python -m kprod.testing start|stop|status|create-topic|fetch`` — a local Kafka for
manual runs.

``start`` prints the bootstrap servers on one line, then keeps the cluster up until
Ctrl+C, SIGTERM or ``python -m kprod.testing stop`` (found via a state file in the
cache dir). It ignores SIGHUP, so ``nohup python -m kprod.testing start &`` outlives
the shell that started it. The cluster does not auto-create topics:
``python -m kprod.testing create-topic NAME --partitions N`` creates one (with
:class:`kprod.admin.AdminClient`, on the running cluster unless ``--bootstrap`` says
otherwise) and returns once every partition's leader serves it.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from .artifacts import (
    kafka_libs_dir,
    kafka_version,
)
from .cluster import KafkaCluster
from .daemon import StateFile, serve, status, stop_running

STATE = StateFile("cluster")


def state_file() -> pathlib.Path:
    """Where a running ``start`` records its pid and bootstrap servers."""
    return STATE.path


def _start(args: argparse.Namespace) -> int:
    cluster = KafkaCluster(brokers=args.brokers, version=args.version, work_dir=args.work_dir,
                           fast_startup=not args.no_fast_startup, port=args.port)

    def start() -> tuple[str, dict]:
        cluster.start()
        return cluster.bootstrap_servers, {
            "bootstrap_servers": cluster.bootstrap_servers, "brokers": args.brokers,
            "version": cluster.version, "work_dir": str(cluster.work_dir)}

    return serve(STATE, start, cluster.stop)


def _stop(args: argparse.Namespace) -> int:
    return stop_running(STATE, args.timeout, "cluster")


def _status(args: argparse.Namespace) -> int:
    return status(STATE)


def _create_topic(args: argparse.Namespace) -> int:
    bootstrap = args.bootstrap
    if bootstrap is None:
        state = STATE.read()
        if state is None:
            print("no running cluster: start one with 'python -m kprod.testing start' or "
                  "give --bootstrap HOST:PORT", file=sys.stderr)
            return 1
        bootstrap = state["bootstrap_servers"]
    if args.partitions < 1 or args.replication_factor < 1:
        print("--partitions and --replication-factor must be >= 1", file=sys.stderr)
        return 1
    configs = {}
    for setting in args.config:
        name, sep, value = setting.partition("=")
        if not sep or not name:
            print(f"--config takes NAME=VALUE, got {setting!r}", file=sys.stderr)
            return 1
        configs[name] = value
    from kprod.admin import AdminClient
    from kprod.errors import KafkaError

    try:
        with AdminClient({"bootstrap.servers": bootstrap}) as admin:
            admin.create_topic(args.name, args.partitions, args.replication_factor, configs,
                               timeout=args.timeout)
    except KafkaError as exc:   # typed: TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR, ...
        print(f"create-topic {args.name}: {exc}", file=sys.stderr)
        return 1
    print(f"created topic {args.name} ({args.partitions} partitions, replication factor "
          f"{args.replication_factor}) on {bootstrap}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    print(kafka_libs_dir(args.version))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kprod.testing", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a local cluster and wait")
    start.add_argument("--brokers", type=int, default=1)
    start.add_argument("--version", default=None, help=f"Kafka version (default {kafka_version()})")
    start.add_argument("--port", type=int, default=None,
                       help="the first broker's port (default: a free one), e.g. 9092")
    start.add_argument("--work-dir", default=None, help="keep data/logs here (default: temp dir)")
    start.add_argument("--no-fast-startup", action="store_true",
                       help="full JIT (slower start, higher throughput; for benchmarks)")
    start.set_defaults(func=_start)
    stop = sub.add_parser("stop", help="stop the cluster started by 'start'")
    stop.add_argument("--timeout", type=float, default=60.0)
    stop.set_defaults(func=_stop)
    sub.add_parser("status", help="print bootstrap servers if running").set_defaults(func=_status)
    create = sub.add_parser("create-topic", help="create a topic (the cluster does not "
                            "auto-create them)")
    create.add_argument("name")
    create.add_argument("--partitions", type=int, default=1)
    create.add_argument("--replication-factor", type=int, default=1)
    create.add_argument("--config", action="append", default=[], metavar="NAME=VALUE",
                        help="a topic setting, e.g. --config max.message.bytes=2000000")
    create.add_argument("--bootstrap", default=None, metavar="HOST:PORT",
                        help="default: the cluster 'start' is running")
    create.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for the topic's leaders (default 60)")
    create.set_defaults(func=_create_topic)
    fetch = sub.add_parser("fetch", help="download the jars and print their directory")
    fetch.add_argument("--version", default=None)
    fetch.set_defaults(func=_fetch)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
