"""Counting the records that leave send()'s native path (kprod._native.appender.SendPath)
for the Python send it falls back to."""
from __future__ import annotations

from typing import Any, List


def count_slow_calls(producer: Any) -> List[Any]:
    """Wrap the producer's Python send: the returned list gets one entry (the call's
    first argument) per record that took it."""
    calls: List[Any] = []
    slow = producer._send_path.slow

    def counting_slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[:1])
        return slow(*args, **kwargs)

    producer._send_path.slow = counting_slow
    return calls
