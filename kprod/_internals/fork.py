"""The producer in a child process after ``fork()``.

os.register_at_fork marks every live producer of the child as forked; its first call
there fails what it inherited (fail_inherited) and then either raises or, with
``kprod.fork.reinitialize=true``, starts it afresh (Producer._after_fork). The parent's
producers are untouched.
"""
from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any

from kprod.errors import KafkaError

log = logging.getLogger("kprod.producer")

_live_producers: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(producer: Any) -> None:
    """A new producer: marked in a child process forked while it lives."""
    _live_producers.add(producer)


def _after_fork_in_child() -> None:
    # Only marks the producers: the child's first call on one fails what it inherited
    # and re-initialises it (kprod.fork.reinitialize) or raises (Producer._after_fork).
    for producer in list(_live_producers):
        producer._forked = True
        producer._send_path.enabled = False
        producer._close_lock = threading.Lock()   # a parent thread may have held it
        producer._inherited_failed = False        # this child's inheritance (once each)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def fail_inherited(producer: Any) -> None:
    """Complete every record the child inherited with an error (once). Nothing is
    released to the parent's pool and no inherited socket is written to: a parent
    thread may have held their locks at fork()."""
    if producer._inherited_failed:
        return
    producer._inherited_failed = True
    acc = producer._accumulator
    inherited = list(acc.incomplete)
    for queue in list(acc.queues.values()):
        inherited += [b for b in list(queue.batches) if b not in acc.incomplete]
    network = producer._sender.network
    for conn in network.all_connections():
        if conn.sock is not None:
            try:
                conn.sock.close()       # the child's copy; the parent's stays open
            except OSError:
                pass
            conn.sock = None
    try:
        network.selector.close()
    except OSError:
        pass
    error = KafkaError("The record was queued before fork() in the parent process; "
                       "a child process does not send it (the parent may)")
    for batch in inherited:
        if batch.final_state is not None:
            continue
        batch.final_state = "failed"
        result = batch.result
        result._lock = threading.Lock()
        result._event = None
        try:
            result.complete(-1, -1, error)
        except Exception:
            log.exception("Failing an inherited batch after fork() failed")

