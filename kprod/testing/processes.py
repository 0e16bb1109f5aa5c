"""Child processes of kprod.testing (brokers, the registry, Toxiproxy) die with it."""
from __future__ import annotations

import ctypes
import signal
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
