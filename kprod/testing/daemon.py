"""The ``start``/``stop``/``status`` commands shared by the broker and registry CLIs.

``start`` runs in the foreground until SIGTERM, Ctrl+C or ``stop``; it ignores
SIGHUP, so ``nohup python -m kprod.testing start &`` outlives its shell. A JSON state
file in the cache dir records its pid and address for ``stop`` and ``status``.
"""
from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import time
from typing import Any, Callable

from .artifacts import cache_dir


class StateFile:
    """``<cache dir>/<name>.json``: what a running ``start`` wrote."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def path(self) -> pathlib.Path:
        return cache_dir() / f"{self.name}.json"

    def read(self) -> dict | None:
        """The state of a live ``start``, else None."""
        try:
            state = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return state if pid_alive(state.get("pid", -1)) else None

    def write(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": os.getpid(), **state}))

    def remove_if_mine(self) -> None:
        state = self.read()
        if state is None or state.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
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


def serve(state_file: StateFile, start: Callable[[], tuple[str, dict[str, Any]]],
          stop: Callable[[], None]) -> int:
    """Start (``start()`` returns the address to print and the state to record), then
    wait until SIGTERM / Ctrl+C / ``stop``, and stop cleanly."""
    running = state_file.read()
    if running:
        print(f"already running (pid {running['pid']}): {_address(running)}", file=sys.stderr)
        return 1

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, _exit)
    # The terminal going away is no reason to stop (nohup sets this too; an earlier
    # handler of ours overrode it and killed the cluster with the shell).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        address, state = start()
        state_file.write({"address": address, **state})
        try:
            print(address, flush=True)
        except OSError:   # stdout went away (a closed terminal): keep serving
            pass
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        state_file.remove_if_mine()
    return 0


def stop_running(state_file: StateFile, timeout: float, what: str) -> int:
    """SIGTERM the running ``start`` and wait until it has stopped."""
    state = state_file.read()
    if state is None:
        state_file.path.unlink(missing_ok=True)
        print(f"no running {what}", file=sys.stderr)
        return 0
    os.kill(state["pid"], signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(state["pid"]):
        if time.monotonic() > deadline:
            print(f"pid {state['pid']} still running after {timeout}s", file=sys.stderr)
            return 1
        time.sleep(0.2)
    print("stopped", file=sys.stderr)
    return 0


def status(state_file: StateFile) -> int:
    state = state_file.read()
    if state is None:
        print("not running")
        return 1
    print(_address(state))
    return 0


def _address(state: dict) -> str:
    # "bootstrap_servers": the broker CLI's state file before it had "address".
    return state.get("address") or state.get("bootstrap_servers", "?")
