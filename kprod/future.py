"""The future ``send()`` returns: :class:`RecordFuture` (native, one per record).

Each record's future points at its batch's shared result (see
:mod:`kprod._internals.completion`) plus its offset delta, so the per-record cost
on ``send()`` is one small allocation.
"""
from kprod._internals.completion import BatchResult  # noqa: F401 (older internal imports)
from kprod._native.appender import RecordFuture

__all__ = ["RecordFuture"]
