"""The JVMs this process started (Kafka nodes, schema registries): stopped at interpreter
exit and on SIGTERM, so a test run never leaves one behind (``PR_SET_PDEATHSIG`` in
:mod:`kprod.testing.processes` is the backstop when Python itself is killed)."""
from __future__ import annotations

import atexit
import os
import signal
import threading
from typing import Protocol


class Stoppable(Protocol):
    def stop(self, timeout: float = ...) -> None: ...


_LIVE: set[Stoppable] = set()
_LIVE_LOCK = threading.Lock()
_SIGTERM_INSTALLED = False
_ATEXIT_INSTALLED = False


def register(service: Stoppable) -> None:
    global _SIGTERM_INSTALLED, _ATEXIT_INSTALLED
    with _LIVE_LOCK:
        _LIVE.add(service)
        if not _ATEXIT_INSTALLED:    # not at import: only a process that starts one
            atexit.register(stop_all)
            _ATEXIT_INSTALLED = True
        # Python's default SIGTERM action skips atexit; convert it into a clean stop.
        # Only when nobody else handles SIGTERM and we can (main thread).
        if (not _SIGTERM_INSTALLED and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _on_sigterm)
            _SIGTERM_INSTALLED = True


def unregister(service: Stoppable) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(service)


def stop_all() -> None:
    """Stop everything this process started (atexit and the SIGTERM handler)."""
    with _LIVE_LOCK:
        services = list(_LIVE)
    for service in services:
        try:
            service.stop(timeout=10.0)
        except Exception:  # best effort at shutdown; PDEATHSIG is the backstop
            pass


def _on_sigterm(signum: int, frame: object) -> None:
    stop_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
