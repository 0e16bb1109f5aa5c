"""Write a Dask DataFrame or Bag to a Kafka topic (``pip install dask distributed``).

``to_kafka(data, topic, config)`` runs one task per Dask partition. Each task writes
its partition with one :meth:`Producer.send_many` call and waits for the
acknowledgements, so a finished task means its records are on the broker, and a
failed record fails the task (KafkaError naming the first failed record). Each worker
process keeps one producer per configuration, reused by every task it runs (producers
are thread-safe; their connections and batches are shared), and closes it when the
process exits.

DataFrame: the ``value`` column (and the optional ``key``, ``partition`` and
``timestamp`` columns) of each partition go to send_many as they are: object columns
of bytes / None, Arrow-backed binary or string columns, int partitions, int64 ms or
datetime64 timestamps. Bag: items are values (bytes or None), or ``(key, value)``
pairs with ``pairs=True``.
"""
from __future__ import annotations

import atexit
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

from kprod.errors import KafkaError
from kprod.producer import Producer

__all__ = ["to_kafka", "worker_producer"]

_producers: Dict[Tuple[Tuple[str, str], ...], Producer] = {}
_lock = threading.Lock()


def _config_key(config: Mapping[str, Any]) -> Tuple[Tuple[str, str], ...]:
    return tuple(sorted((str(name), repr(value)) for name, value in config.items()))


def worker_producer(config: Mapping[str, Any]) -> Producer:
    """This process's producer for ``config`` (made on first use, closed at exit)."""
    key = _config_key(config)
    producer = _producers.get(key)
    if producer is None or producer.closed:
        with _lock:
            producer = _producers.get(key)
            if producer is None or producer.closed:
                producer = _producers[key] = Producer(dict(config))
    return producer


@atexit.register
def _close_producers() -> None:
    with _lock:
        producers = list(_producers.values())
        _producers.clear()
    for producer in producers:
        producer.close(30)


def _write(config: Mapping[str, Any], topic: str, timeout: Optional[float], values: Any,
           **columns: Any) -> int:
    producer = worker_producer(config)
    metadata = producer.send_many(topic, values, **columns).get(timeout)
    if metadata.errors:
        index, error = metadata.errors[0]
        raise KafkaError(f"kprod.dask: {len(metadata.errors)} of {len(metadata)} records "
                         f"to {topic!r} failed; the first, record {index} of its "
                         f"partition: {error!r}") from error
    return len(metadata)


def _write_frame(frame: Any, config: Mapping[str, Any], topic: str, value: str,
                 key: Optional[str], partition: Optional[str], timestamp: Optional[str],
                 timeout: Optional[float]) -> int:
    if len(frame) == 0:
        return 0
    columns: Dict[str, Any] = {}
    if key is not None:
        columns["keys"] = frame[key]
    if partition is not None:
        columns["partitions"] = frame[partition].to_numpy()
    if timestamp is not None:
        columns["timestamps"] = frame[timestamp].to_numpy()
    return _write(config, topic, timeout, frame[value], **columns)


def _write_bag(items: Any, config: Mapping[str, Any], topic: str, pairs: bool,
               timeout: Optional[float]) -> int:
    items = list(items)
    if not items:
        return 0
    if pairs:
        keys = [item[0] for item in items]
        return _write(config, topic, timeout, [item[1] for item in items], keys=keys)
    return _write(config, topic, timeout, items)


def to_kafka(data: Any, topic: str, config: Mapping[str, Any], *, value: str = "value",
             key: Optional[str] = None, partition: Optional[str] = None,
             timestamp: Optional[str] = None, pairs: bool = False,
             timeout: Optional[float] = None, compute: bool = True) -> Any:
    """Write every record of a Dask DataFrame or Bag to ``topic``.

    ``config``: the producer settings (``bootstrap.servers``, ...). DataFrame column
    names: ``value`` (required), ``key``, ``partition``, ``timestamp``. Bag: ``pairs``
    for ``(key, value)`` items. ``timeout``: how long a task waits for its
    acknowledgements (default: until delivery.timeout.ms decides). Returns the number
    of records written, or with ``compute=False`` the list of delayed task results.
    """
    import dask
    import dask.bag
    config = dict(config)
    if isinstance(data, dask.bag.Bag):
        tasks = [dask.delayed(_write_bag)(part, config, topic, pairs, timeout)
                 for part in data.to_delayed()]  # type: ignore[no-untyped-call]  # dask.bag
    elif hasattr(data, "to_delayed") and hasattr(data, "columns"):
        missing = [name for name in (value, key, partition, timestamp)
                   if name is not None and name not in data.columns]
        if missing:
            raise KeyError(f"kprod.dask.to_kafka: the DataFrame has no column(s) {missing} "
                           f"(columns: {list(data.columns)})")
        tasks = [dask.delayed(_write_frame)(part, config, topic, value, key, partition,
                                            timestamp, timeout)
                 for part in data.to_delayed()]
    else:
        raise TypeError(f"kprod.dask.to_kafka: expected a dask DataFrame or Bag, not "
                        f"{type(data).__name__}")
    if not compute:
        return tasks
    counts: List[int] = list(dask.compute(*tasks))  # type: ignore[no-untyped-call]  # dask
    return sum(counts)
