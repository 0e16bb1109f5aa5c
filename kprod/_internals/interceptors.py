"""The producer's interceptors (Java's ``ProducerInterceptors``): the
``interceptor.classes`` objects called around each record.

- ``on_send(record)`` may replace the record before it is serialized (caller thread);
- ``on_acknowledgement(metadata, exception)`` sees every outcome (I/O thread), before
  the record's own callback;
- ``on_send_error(record, exception)`` sees an error raised inside send(); without it,
  ``on_acknowledgement`` gets metadata with offset -1, as Java's onSendError does.

As in Java, an interceptor's own errors are logged and never reach the caller.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from kprod._internals import plugins
from kprod.errors import ConfigError
from kprod.record import ProducerRecord, RecordMetadata

log = logging.getLogger("kprod.producer")

#: A send() callback, called (metadata, None) or (None, exception).
SendCallback = Callable[[Any, Optional[BaseException]], Any]

# A record's fields as send() passes them on: topic, value, key, partition, timestamp,
# headers, callback.
RecordFields = Tuple[Any, Any, Any, Optional[int], Optional[int], Any, Optional[SendCallback]]

_METHODS = ("on_send", "on_acknowledgement", "on_send_error")


class ProducerInterceptors:
    def __init__(self, interceptors: List[Any]) -> None:
        self.interceptors = interceptors
        self.on_send = [i.on_send for i in interceptors
                        if callable(getattr(i, "on_send", None))]
        acks = [(i, i.on_acknowledgement) for i in interceptors
                if callable(getattr(i, "on_acknowledgement", None))]
        # The chain every record's outcome goes through (None: no interceptor has one).
        self.acknowledge: Optional[Callable[[Any, Optional[BaseException]], None]] = None
        if acks:
            def acknowledge(metadata: Any, exception: Optional[BaseException]) -> None:
                for interceptor, method in acks:
                    try:
                        method(metadata, exception)
                    except Exception:
                        log.exception("Interceptor %r on_acknowledgement failed", interceptor)
            self.acknowledge = acknowledge

    def __bool__(self) -> bool:
        return bool(self.interceptors)

    def intercept(self, topic: Any, value: Any, key: Any, partition: Optional[int],
                  timestamp: Optional[int], headers: Any,
                  callback: Optional[SendCallback]) -> RecordFields:
        """Each ``on_send`` in turn (it may return a replacement record); the callback
        comes back chained behind the ``on_acknowledgement`` calls."""
        record = ProducerRecord(topic, value=value, key=key, partition=partition,
                                timestamp=timestamp, headers=headers)
        for on_send in self.on_send:
            try:
                record = on_send(record) or record
            except Exception:
                log.exception("Interceptor %r on_send failed", on_send.__self__)
        return (record.topic, record.value, record.key, record.partition, record.timestamp,
                record.headers, self.chain(callback))

    def chain(self, callback: Optional[SendCallback]) -> Optional[SendCallback]:
        """The record's callback: the interceptors' on_acknowledgement, then the user's."""
        acknowledge = self.acknowledge
        if acknowledge is None or callback is None:
            return acknowledge if callback is None else callback

        def acknowledged(metadata: Any, exception: Optional[BaseException]) -> None:
            acknowledge(metadata, exception)
            callback(metadata, exception)

        return acknowledged

    def on_send_error(self, topic: Any, value: Any, key: Any, partition: Optional[int],
                      timestamp: Optional[int], headers: Any,
                      exception: BaseException) -> None:
        """An error raised inside send() (Java ProducerInterceptors.onSendError)."""
        record = None
        for interceptor in self.interceptors:
            try:
                method = getattr(interceptor, "on_send_error", None)
                if callable(method):
                    if record is None:
                        record = ProducerRecord(topic, value=value, key=key,
                                                partition=partition, timestamp=timestamp,
                                                headers=headers)
                    method(record, exception)
                elif callable(getattr(interceptor, "on_acknowledgement", None)):
                    interceptor.on_acknowledgement(RecordMetadata(
                        topic, -1 if partition is None else partition, -1, -1, -1, -1),
                        exception)
            except Exception:
                log.exception("Interceptor %r on_send_error failed", interceptor)


def load_interceptors(spec: Any, configs: Dict[str, Any],
                      owned: List[Any]) -> ProducerInterceptors:
    """The ``interceptor.classes`` setting's objects, configured (those kprod made) and
    added to ``owned`` (closed with the producer); one with none of the three methods
    is a ConfigError."""
    interceptors = []
    for interceptor, made in plugins.resolve_list(spec, "interceptor.classes"):
        owned.append(interceptor)
        if not any(callable(getattr(interceptor, m, None)) for m in _METHODS):
            raise ConfigError(f"Setting 'interceptor.classes': {interceptor!r} has none of "
                              "on_send(record), on_acknowledgement(metadata, exception), "
                              "on_send_error(record, exception)")
        if made:
            plugins.configure(interceptor, configs, "interceptor.classes")
        interceptors.append(interceptor)
    return ProducerInterceptors(interceptors)
