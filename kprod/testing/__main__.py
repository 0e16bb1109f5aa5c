"""``python -m kprod.testing start|stop|status|fetch`` — a local Kafka for manual runs.

``start`` prints the bootstrap servers on one line, then keeps the cluster up until
Ctrl+C, SIGTERM or ``python -m kprod.testing stop`` (found via a state file in the
cache dir).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import signal
import sys
import time

from .artifacts import cache_dir, kafka_libs_dir, kafka_version
from .cluster import KafkaCluster


def state_file() -> pathlib.Path:
    """Where a running ``start`` records its pid and bootstrap servers."""
    return cache_dir() / "cluster.json"


def _read_state() -> dict | None:
    try:
        state = json.loads(state_file().read_text())
    except (FileNotFoundError, ValueError):
        return None
    return state if _pid_alive(state.get("pid", -1)) else None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)  # exited but not yet reaped by its parent


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:  # no procfs (macOS): trust kill(0)
        return False


def _start(args: argparse.Namespace) -> int:
    running = _read_state()
    if running:
        print(f"already running (pid {running['pid']}): {running['bootstrap_servers']}", file=sys.stderr)
        return 1
    # SIGTERM/SIGHUP -> KeyboardInterrupt-like exit so the cluster is stopped cleanly.
    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)

    cluster = KafkaCluster(brokers=args.brokers, version=args.version, work_dir=args.work_dir,
                           fast_startup=not args.no_fast_startup)
    state_file().parent.mkdir(parents=True, exist_ok=True)
    try:
        cluster.start()
        state_file().write_text(json.dumps({
            "pid": os.getpid(), "bootstrap_servers": cluster.bootstrap_servers,
            "brokers": args.brokers, "version": cluster.version,
            "work_dir": str(cluster.work_dir)}))
        print(cluster.bootstrap_servers, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        state = _read_state()
        if state is None or state.get("pid") == os.getpid():
            state_file().unlink(missing_ok=True)
    return 0


def _stop(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is None:
        state_file().unlink(missing_ok=True)
        print("no running cluster", file=sys.stderr)
        return 0
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while _pid_alive(state["pid"]):
        if time.monotonic() > deadline:
            print(f"pid {state['pid']} still running after {args.timeout}s", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print("stopped", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    state = _read_state()
    if state is None:
        print("not running")
        return 1
    print(state["bootstrap_servers"])
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
    start.add_argument("--work-dir", default=None, help="keep data/logs here (default: temp dir)")
    start.add_argument("--no-fast-startup", action="store_true",
                       help="full JIT (slower start, higher throughput; for benchmarks)")
    start.set_defaults(func=_start)
    stop = sub.add_parser("stop", help="stop the cluster started by 'start'")
    stop.add_argument("--timeout", type=float, default=60.0)
    stop.set_defaults(func=_stop)
    sub.add_parser("status", help="print bootstrap servers if running").set_defaults(func=_status)
    fetch = sub.add_parser("fetch", help="download the jars and print their directory")
    fetch.add_argument("--version", default=None)
    fetch.set_defaults(func=_fetch)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
