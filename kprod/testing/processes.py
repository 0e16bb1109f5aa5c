"""Child processes of kprod.testing (brokers, the registry, Toxiproxy): they die with
it; free ports for them, whether they listen, and their log files."""
from __future__ import annotations

import ctypes
import os
import pathlib
import signal
import socket
import sys
from typing import Callable

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved once in the parent: the forked child should do as little as possible.
_PRCTL = _load_prctl()


def die_with_parent() -> None:
    """preexec_fn: have the kernel SIGKILL the child when its parent (us) dies.

    Note the kernel ties this to the *thread* that forked; start children from a
    long-lived thread (normally the main thread).
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_ports(count: int) -> list[int]:
    # Hold all sockets open while picking so we never get the same port twice.
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def count_lines(path: pathlib.Path, needle: str) -> int:
    try:
        with open(path, "rb") as fh:
            return fh.read().count(needle.encode())
    except FileNotFoundError:
        return 0


def error_lines(path: pathlib.Path, limit: int = 10) -> list[str]:
    """ERROR/FATAL log lines, each with the next line (usually the exception message)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    picked: list[str] = []
    for i, line in enumerate(lines):
        if "] ERROR " in line or "] FATAL " in line:
            picked.extend(lines[i:i + 2])
            if len(picked) >= 2 * limit:
                break
    return picked


def tail(path: pathlib.Path, n: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 256 * 1024))  # logs can be big; the tail is enough
            return fh.read().decode(errors="replace").splitlines()[-n:]
    except FileNotFoundError:
        return []
