from typing import Any, Callable, Generator, List, Optional, Sequence, Tuple, final

from kprod._native.partition import PartitionChooser
from kprod.record import RecordMetadata

@final
class RecordFuture:
    """The future ``Producer.send()`` returns; resolves to RecordMetadata."""

    @property
    def _batch(self) -> Any: ...   # the BatchResult it completes with (_internals.completion)
    @property
    def _delta(self) -> int: ...   # its offset delta in that batch
    def __init__(self, batch: Any, delta: int, timestamp: int, key_size: int,
                 value_size: int) -> None: ...
    def done(self) -> bool: ...
    def cancelled(self) -> bool: ...
    def cancel(self) -> bool: ...
    def running(self) -> bool: ...
    def metadata(self) -> RecordMetadata: ...
    def get(self, timeout: Optional[float] = None) -> RecordMetadata: ...
    def result(self, timeout: Optional[float] = None) -> RecordMetadata: ...
    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]: ...
    def add_done_callback(self, fn: Callable[["RecordFuture"], Any]) -> None: ...
    def __await__(self) -> Generator[Any, None, RecordMetadata]: ...

class BatchCore:
    builder: Any
    payload: Optional[memoryview]
    result: Any

@final
class PartitionQueue:
    tp: Tuple[str, int]
    lock: Any
    batches: Any
    muted: bool
    def __init__(self, tp: Tuple[str, int]) -> None: ...

@final
class TopicState:
    """Per-topic cache of the send fast path (no Python-visible fields)."""

@final
class SendPath:
    slow: Callable[..., RecordFuture]
    enabled: bool
    metadata: Any
    accumulator: Any
    wakeup: Callable[[], None]
    partitioner: PartitionChooser
    default_callback: Optional[Callable[[Any, Optional[BaseException]], Any]]
    unchecked_size: int
    def send(self, topic: Any, value: Any = None, key: Any = None,
             partition: Optional[int] = None, timestamp: Optional[int] = None,
             headers: Any = None, callback: Optional[Callable[..., Any]] = None, *,
             block: bool = True) -> RecordFuture: ...

def try_append(batches: Sequence[Any], timestamp: int, key: Optional[bytes],
               value: Optional[bytes], headers: Any, callback: Any, key_size: int,
               value_size: int) -> Optional[Tuple[RecordFuture, int, bool]]: ...

def run_callbacks(callbacks: List[Any], result: Any, error: Optional[BaseException],
                  on_callback_error: Callable[[Any], Any]) -> None: ...

def collect_results(futures: List[Any], start: int, results: List[Any],
                    return_exceptions: bool) -> int: ...
