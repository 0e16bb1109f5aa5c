"""The future ``send()`` returns: :class:`RecordFuture` (native, one per record), and
:func:`wait` / :func:`as_completed`, the equivalents of ``concurrent.futures.wait`` and
``concurrent.futures.as_completed`` for it.

Each record's future points at its batch's shared result (see
:mod:`kprod._internals.completion`) plus its offset delta, so the per-record cost
on ``send()`` is one small allocation. ``concurrent.futures.wait`` itself only takes
``concurrent.futures.Future`` objects (it uses their private lock and waiter list);
:func:`wait` and :func:`as_completed` take RecordFutures (and anything else with
``done()`` and ``add_done_callback(fn)``, such as ``concurrent.futures.Future``), with
the same arguments and results. ``await future`` works in asyncio (see
:mod:`kprod._internals.loop_bridge`).
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import (
    ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION,
)
from typing import Any, Iterable, Iterator, List, NamedTuple, Optional, Set

from kprod._internals.completion import BatchResult  # noqa: F401 (older internal imports)
from kprod._native.appender import RecordFuture
from kprod.errors import KafkaTimeoutError

__all__ = ["RecordFuture", "wait", "as_completed", "ALL_COMPLETED", "FIRST_COMPLETED",
           "FIRST_EXCEPTION"]


class DoneAndNotDoneFutures(NamedTuple):
    """What :func:`wait` returns (the fields of concurrent.futures.wait's result)."""
    done: Set[Any]
    not_done: Set[Any]


class _Collector:
    """Done futures, handed from the threads that complete them to one waiter."""

    def __init__(self) -> None:
        self.done: List[Any] = []
        self.condition = threading.Condition()

    def __call__(self, future: Any) -> None:
        with self.condition:
            self.done.append(future)
            self.condition.notify()

    def take(self, deadline: Optional[float]) -> List[Any]:
        """The futures done since the last call; waits until one is, or the deadline."""
        with self.condition:
            while not self.done:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return []
                self.condition.wait(remaining)
            done, self.done = self.done, []
            return done


def _failed(future: Any) -> bool:
    return not future.cancelled() and future.exception(0) is not None


def wait(futures: Iterable[Any], timeout: Optional[float] = None,
         return_when: str = ALL_COMPLETED) -> DoneAndNotDoneFutures:
    """``concurrent.futures.wait`` for RecordFutures: returns ``(done, not_done)`` sets
    once all are done (ALL_COMPLETED), any is (FIRST_COMPLETED), any failed or all are
    done (FIRST_EXCEPTION), or ``timeout`` seconds passed."""
    if return_when not in (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION):
        raise ValueError(f"Invalid return_when {return_when!r}")
    pending: Set[Any] = set(futures)
    done = {f for f in pending if f.done()}
    pending -= done
    if not pending or (return_when == FIRST_COMPLETED and done) or (
            return_when == FIRST_EXCEPTION and any(_failed(f) for f in done)):
        return DoneAndNotDoneFutures(done, pending)
    deadline = None if timeout is None else time.monotonic() + timeout
    collector = _Collector()
    for future in pending:
        future.add_done_callback(collector)
    while pending:
        finished = collector.take(deadline)
        if not finished:
            break                                   # timed out
        finished_set = set(finished) & pending
        pending -= finished_set
        done |= finished_set
        if return_when == FIRST_COMPLETED or (
                return_when == FIRST_EXCEPTION and any(_failed(f) for f in finished_set)):
            break
    return DoneAndNotDoneFutures(done, pending)


def as_completed(futures: Iterable[Any], timeout: Optional[float] = None) -> Iterator[Any]:
    """``concurrent.futures.as_completed`` for RecordFutures: yields each future as it
    completes (those already done first); raises KafkaTimeoutError (a TimeoutError) if
    some are still pending ``timeout`` seconds after the call."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = set(futures)
    total = len(pending)
    done = [f for f in pending if f.done()]
    pending.difference_update(done)
    collector = _Collector()
    for future in pending:
        future.add_done_callback(collector)
    yield from done
    while pending:
        finished = [f for f in collector.take(deadline) if f in pending]
        if not finished and (deadline is not None and time.monotonic() >= deadline):
            raise KafkaTimeoutError(f"{len(pending)} (of {total}) futures unfinished after "
                                    f"{timeout} s")
        for future in finished:
            pending.discard(future)
            yield future
