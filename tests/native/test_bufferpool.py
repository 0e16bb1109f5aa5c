"""Tests for kprod._native.bufferpool (Java BufferPool semantics, KAFKA-19012 safety)."""
from __future__ import annotations

import _thread
import gc
import random
import threading
import time
from typing import Callable, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kprod.errors import (
    BufferExhaustedError,
    IllegalStateError,
    KafkaError,
    ProducerClosedError,
    RecordTooLargeError,
)
from kprod._native.bufferpool import (
    BufferPool,
    PooledBuffer,
    StaleBufferError,
    standalone_buffer,
)

LONG_MS = 20_000.0  # a bound for waits that must end by other means


def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll cond (bounded); used to wait for threads to reach a blocked state."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.001)


def check_accounting(pool: BufferPool, outstanding: int) -> None:
    assert pool.available_memory == (pool.unallocated_memory
                                     + pool.free_buffers * pool.pool_buffer_size)
    assert pool.available_memory + outstanding == pool.total_memory


class Allocator(threading.Thread):
    """allocate() in a thread; records the result or the error, and the serve order."""

    def __init__(self, pool: BufferPool, size: int, max_block_ms: float, name: str,
                 order: List[str], order_lock: threading.Lock) -> None:
        super().__init__(daemon=True)
        self.pool, self.size, self.max_block_ms, self.label = pool, size, max_block_ms, name
        self.order, self.order_lock = order, order_lock
        self.buffer: PooledBuffer | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.buffer = self.pool.allocate(self.size, self.max_block_ms)
            with self.order_lock:
                self.order.append(self.label)
        except BaseException as exc:  # noqa: BLE001 - recorded for the test
            self.error = exc


# --- basics ---------------------------------------------------------------------

def test_pooled_buffer_reused_from_free_list():
    pool = BufferPool(1000, 100)
    assert (pool.total_memory, pool.pool_buffer_size) == (1000, 100)
    a = pool.allocate(100, 0)
    assert a.capacity == 100 and len(memoryview(a)) == 100
    addr = a._address
    check_accounting(pool, 100)
    a.release()
    assert a.returned and pool.free_buffers == 1
    assert pool.unallocated_memory == 900 and pool.available_memory == 1000
    b = pool.allocate(100, 0)
    assert b._address == addr, "same size must come from the free list"
    assert pool.free_buffers == 0 and pool.unallocated_memory == 900
    check_accounting(pool, 100)
    b.release()


@pytest.mark.parametrize("size", [300, 50, 0])
def test_non_pool_sizes_counted_not_pooled(size):
    pool = BufferPool(1000, 100)
    buf = pool.allocate(size, 0)
    assert buf.capacity == size
    assert pool.available_memory == 1000 - size
    check_accounting(pool, size)
    buf.release()
    assert pool.free_buffers == 0
    assert pool.unallocated_memory == 1000 == pool.available_memory


def test_big_allocation_frees_pooled_buffers():
    pool = BufferPool(1000, 100)
    bufs = [pool.allocate(100, 0) for _ in range(10)]
    assert pool.available_memory == 0
    for b in bufs:
        b.release()
    assert pool.free_buffers == 10 and pool.unallocated_memory == 0
    big = pool.allocate(250, 0)
    # Java freeUp(): just enough pooled buffers are freed (3 x 100 for 250).
    assert pool.free_buffers == 7 and pool.unallocated_memory == 50
    check_accounting(pool, 250)
    big.release()
    assert pool.available_memory == 1000


def test_size_above_total_memory_raises_at_once():
    pool = BufferPool(1000, 100)
    with pytest.raises(RecordTooLargeError) as info:
        pool.allocate(1001, LONG_MS)
    msg = str(info.value)
    assert "1001" in msg and "1000" in msg and "buffer.memory" in msg
    assert pool.queued == 0 and pool.available_memory == 1000


def test_argument_validation():
    with pytest.raises(ValueError):
        BufferPool(-1, 10)
    with pytest.raises(ValueError):
        BufferPool(10, -1)
    pool = BufferPool(100, 10)
    with pytest.raises(ValueError):
        pool.allocate(-1, 0)
    with pytest.raises(ValueError):
        pool.allocate(1, -1.0)
    with pytest.raises(ValueError):
        pool.allocate(1, float("nan"))
    with pytest.raises(TypeError):
        PooledBuffer()
    assert pool.available_memory == 100


# --- blocking, timeouts ---------------------------------------------------------

def test_timeout_raises_buffer_exhausted_naming_sizes():
    pool = BufferPool(100, 10)
    hold = pool.allocate(100, 0)
    start = time.monotonic()
    with pytest.raises(BufferExhaustedError) as info:
        pool.allocate(10, 50)
    elapsed = time.monotonic() - start
    assert 0.045 <= elapsed < 5.0
    msg = str(info.value)
    assert "10 bytes" in msg and "50 ms" in msg and "max.block.ms" in msg
    assert "Total memory: 100 bytes" in msg and "Available memory: 0 bytes" in msg
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, KafkaError)
    assert pool.queued == 0 and pool.exhausted_count == 1
    assert pool.wait_time_ns_total >= 40_000_000
    hold.release()
    assert pool.available_memory == 100


def test_timeout_gives_back_partial_grant():
    pool = BufferPool(100, 10)
    a = pool.allocate(60, 0)
    b = pool.allocate(30, 0)          # 10 bytes left
    with pytest.raises(BufferExhaustedError) as info:
        pool.allocate(50, 30)          # takes the 10 while waiting, then gives them back
    assert "Failed to allocate 50 bytes" in str(info.value)
    assert "Available memory: 10 bytes" in str(info.value)
    assert pool.queued == 0 and pool.available_memory == 10
    a.release()
    b.release()
    assert pool.available_memory == 100


def test_max_block_ms_zero_fails_at_once():
    pool = BufferPool(100, 10)
    hold = pool.allocate(95, 0)
    start = time.monotonic()
    with pytest.raises(BufferExhaustedError) as info:
        pool.allocate(10, 0)
    assert time.monotonic() - start < 0.5
    assert "10 bytes" in str(info.value) and "Available memory: 5 bytes" in str(info.value)
    assert pool.queued == 0 and pool.available_memory == 5
    small = pool.allocate(5, 0)       # what is there is still served at once
    small.release()
    hold.release()
    assert pool.available_memory == 100


def test_release_from_other_thread_wakes_waiter_with_pooled_buffer():
    pool = BufferPool(20, 10)
    a = pool.allocate(10, 0)
    b = pool.allocate(10, 0)
    addr = a._address
    order: List[str] = []
    t = Allocator(pool, 10, LONG_MS, "W", order, threading.Lock())
    t.start()
    wait_until(lambda: pool.queued == 1)
    releaser = threading.Thread(target=a.release)
    releaser.start()
    releaser.join()
    t.join(10)
    assert not t.is_alive() and t.error is None
    assert t.buffer is not None and t.buffer._address == addr   # handed over directly
    assert pool.queued == 0 and pool.free_buffers == 0
    t.buffer.release()
    b.release()
    assert pool.available_memory == 20


def test_waiter_with_a_partial_grant_takes_a_freed_pooled_buffer_whole():
    """batch.size does not divide buffer.memory: the pool runs dry with 5 bytes left,
    which a batch.size waiter takes at once. A pooled buffer released then goes to it
    whole (the same memory, no allocation) and the 5 bytes go back."""
    pool = BufferPool(25, 10)
    a = pool.allocate(10, 0)
    b = pool.allocate(10, 0)
    addr = a._address
    t = Allocator(pool, 10, LONG_MS, "W", [], threading.Lock())
    t.start()
    wait_until(lambda: pool.queued == 1)
    assert pool.unallocated_memory == 0          # its partial grant: the 5 left
    a.release()
    t.join(10)
    assert not t.is_alive() and t.error is None
    assert t.buffer is not None and t.buffer._address == addr
    assert pool.system_allocations == 2          # a and b only: nothing freed for it
    assert pool.unallocated_memory == 5 and pool.free_buffers == 0
    check_accounting(pool, 20)
    t.buffer.release()
    b.release()
    assert pool.free_buffers == 2 and pool.available_memory == 25


def test_fifo_fairness_small_request_does_not_overtake():
    pool = BufferPool(100, 10)
    held = [pool.allocate(10, 0) for _ in range(10)]
    order: List[str] = []
    lock = threading.Lock()
    a = Allocator(pool, 60, LONG_MS, "A", order, lock)
    a.start()
    wait_until(lambda: pool.queued == 1)
    b = Allocator(pool, 10, LONG_MS, "B", order, lock)
    b.start()
    wait_until(lambda: pool.queued == 2)

    # Enough for B, not for A: A (first in line) accumulates it, B keeps waiting.
    held.pop().release()
    assert pool.queued == 2 and order == []
    assert pool.available_memory == 0
    # A newcomer cannot jump the queue either, even with max_block_ms=0.
    with pytest.raises(BufferExhaustedError):
        pool.allocate(1, 0)

    for _ in range(4):                 # A has 50 of 60
        held.pop().release()
    assert pool.queued == 2 and order == []
    held.pop().release()               # A complete
    a.join(10)
    assert a.error is None and a.buffer is not None and a.buffer.capacity == 60
    assert order == ["A"] and pool.queued == 1
    held.pop().release()               # now B
    b.join(10)
    assert b.error is None and order == ["A", "B"]
    assert pool.queued == 0

    for buf in held + [a.buffer, b.buffer]:
        buf.release()
    assert pool.available_memory == 100


def test_close_wakes_waiters_with_error():
    pool = BufferPool(100, 10)
    hold = pool.allocate(100, 0)
    order: List[str] = []
    lock = threading.Lock()
    waiters = [Allocator(pool, s, LONG_MS, f"W{s}", order, lock) for s in (10, 50)]
    for i, w in enumerate(waiters):
        w.start()
        wait_until(lambda i=i: pool.queued == i + 1)
    pool.close()
    for w in waiters:
        w.join(10)
        assert not w.is_alive()
        assert isinstance(w.error, ProducerClosedError)
        assert "closed" in str(w.error)
    assert order == [] and pool.queued == 0 and pool.closed
    with pytest.raises(ProducerClosedError):
        pool.allocate(1, 0)
    pool.close()                       # idempotent
    hold.release()                     # buffers out at close still come back
    assert pool.available_memory == 100 and pool.free_buffers == 0


def test_close_frees_pooled_buffers():
    pool = BufferPool(100, 10)
    bufs = [pool.allocate(10, 0) for _ in range(3)]
    for b in bufs:
        b.release()
    assert pool.free_buffers == 3
    pool.close()
    assert pool.free_buffers == 0 and pool.available_memory == 100


def test_blocked_allocate_is_interruptible():
    pool = BufferPool(100, 10)
    a = pool.allocate(60, 0)
    b = pool.allocate(30, 0)

    def interrupt_when_blocked():
        wait_until(lambda: pool.queued == 1)
        _thread.interrupt_main()

    t = threading.Thread(target=interrupt_when_blocked)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        pool.allocate(50, LONG_MS)     # holds a 10-byte partial grant when interrupted
    t.join()
    assert pool.queued == 0 and pool.available_memory == 10
    a.release()
    b.release()
    assert pool.available_memory == 100


# --- views and ownership (KAFKA-19012) ---------------------------------------

def test_release_with_live_view_defers_recycling():
    pool = BufferPool(20, 10)
    a = pool.allocate(10, 0)
    view = memoryview(a)
    assert not view.readonly and view.format == "B" and view.ndim == 1
    view[:] = b"0123456789"
    a.release()
    assert a.release_requested and not a.returned and a.exports == 1
    assert pool.available_memory == 10 and pool.free_buffers == 0
    with pytest.raises(StaleBufferError):
        memoryview(a)                  # no new views once release() was called

    b = pool.allocate(10, 0)           # must not be a's memory
    assert b._address != a._address
    memoryview(b)[:] = b"x" * 10
    assert bytes(view) == b"0123456789"
    with pytest.raises(BufferExhaustedError):
        pool.allocate(10, 0)           # a's memory is still out

    view.release()                     # last view gone -> memory returns
    assert a.returned and a.exports == 0
    assert pool.free_buffers == 1 and pool.available_memory == 10
    b.release()
    assert pool.available_memory == 20


def test_sliced_views_keep_buffer_alive():
    pool = BufferPool(100, 10)
    a = pool.allocate(10, 0)
    view = memoryview(a)
    part = view[2:5]
    view.release()
    a.release()
    assert not a.returned and pool.available_memory == 90
    part[:] = b"abc"                   # memory still owned by a
    del part
    gc.collect()
    assert a.returned and pool.available_memory == 100


def test_stale_buffer_after_return_raises():
    pool = BufferPool(100, 10)
    a = pool.allocate(10, 0)
    a.release()
    assert a.returned and a._address == 0 and a.pool is None
    with pytest.raises(StaleBufferError) as info:
        memoryview(a)
    assert isinstance(info.value, BufferError) and isinstance(info.value, IllegalStateError)
    assert "released" in str(info.value)
    with pytest.raises(StaleBufferError):
        bytes(a)
    before = (pool.available_memory, pool.free_buffers)
    a.release()                        # double release is harmless
    a.release()
    assert (pool.available_memory, pool.free_buffers) == before == (100, 1)


def test_unreleased_buffer_returned_when_collected():
    pool = BufferPool(100, 10)
    a = pool.allocate(10, 0)
    b = pool.allocate(35, 0)
    assert a.pool is pool
    del a, b
    gc.collect()
    assert pool.available_memory == 100 and pool.free_buffers == 1


def test_buffer_in_reference_cycle_returns_memory():
    pool = BufferPool(100, 10)

    class Batch:
        pass

    batch = Batch()
    batch.buf = pool.allocate(40, 0)
    batch.me = batch
    del batch
    gc.collect()
    assert pool.available_memory == 100


def test_standalone_buffer():
    for buf in (PooledBuffer.standalone(16), standalone_buffer(16)):
        assert buf.pool is None and buf.capacity == 16
        view = memoryview(buf)
        view[:] = bytes(range(16))
        buf.release()
        assert not buf.returned          # a view is alive
        assert bytes(view) == bytes(range(16))
        view.release()
        assert buf.returned
        with pytest.raises(StaleBufferError):
            memoryview(buf)
    empty = standalone_buffer(0)
    assert bytes(empty) == b""
    empty.release()
    with pytest.raises(ValueError):
        standalone_buffer(-1)


def test_pool_memory_freed_when_collected():
    import tracemalloc

    def cycle():
        pool = BufferPool(64 << 20, 1 << 20)
        bufs = [pool.allocate(1 << 20, 0) for _ in range(8)] + [pool.allocate(3 << 20, 0)]
        for b in bufs:
            b.release()
        assert pool.free_buffers == 8

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        cycle()
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - base < 256 << 10
    finally:
        tracemalloc.stop()


# --- concurrency ----------------------------------------------------------------

@pytest.mark.parametrize("release_before_view", [False, True])
def test_stress_many_threads(release_before_view):
    pool_size = 4096
    pool = BufferPool(64 * 1024, pool_size)
    sizes = [pool_size, pool_size, pool_size, 1000, 9000, 20000, 0]
    errors: List[BaseException] = []
    iterations = 300

    def worker(tid: int) -> None:
        rng = random.Random(tid)
        try:
            for i in range(iterations):
                size = rng.choice(sizes)
                buf = pool.allocate(size, LONG_MS)
                assert buf.capacity == size
                pattern = bytes([(tid * 31 + i) & 0xFF]) * size
                view = memoryview(buf)
                view[:] = pattern
                time.sleep(0)          # let others run while we own the memory
                if release_before_view:
                    buf.release()      # view alive: memory must stay ours
                    time.sleep(0)
                assert view == pattern, f"corrupted buffer in thread {tid} iteration {i}"
                view.release()
                buf.release()
                assert buf.returned
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(tid,)) for tid in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
        assert not t.is_alive()
    assert errors == []
    assert pool.queued == 0
    check_accounting(pool, 0)
    assert pool.available_memory == pool.total_memory


# --- property: accounting invariant over random sequences ---------------------

op = st.one_of(
    st.tuples(st.just("alloc"), st.integers(0, 8)),
    st.tuples(st.just("release"), st.integers(0, 50)),
    st.tuples(st.just("view"), st.integers(0, 50)),
    st.tuples(st.just("unview"), st.integers(0, 50)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(total=st.sampled_from([0, 50, 100, 1000]), poolable=st.sampled_from([0, 1, 10, 64]),
       ops=st.lists(op, max_size=60))
def test_random_sequences_keep_accounting(total, poolable, ops):
    pool = BufferPool(total, poolable)
    candidates = [0, 1, poolable, poolable, poolable, 2 * poolable + 1, total // 2, total, 7]
    non_pooled, free = total, 0
    live: List[dict] = []             # buffers whose memory is not returned yet

    def give_back(cap: int) -> None:
        nonlocal non_pooled, free
        if cap == poolable and poolable > 0:
            free += 1
        else:
            non_pooled += cap

    for kind, arg in ops:
        if kind == "alloc":
            size = candidates[arg]
            if size > total:
                with pytest.raises(RecordTooLargeError):
                    pool.allocate(size, 0)
            elif size == poolable and poolable > 0 and free > 0:
                free -= 1
                live.append({"buf": pool.allocate(size, 0), "cap": size, "views": []})
            elif non_pooled + free * poolable >= size:
                while free > 0 and non_pooled < size:
                    free -= 1
                    non_pooled += poolable
                non_pooled -= size
                live.append({"buf": pool.allocate(size, 0), "cap": size, "views": []})
            else:
                with pytest.raises(BufferExhaustedError):
                    pool.allocate(size, 0)
        elif live:
            entry = live[arg % len(live)]
            buf = entry["buf"]
            if kind == "release":
                buf.release()
                if not entry["views"]:
                    assert buf.returned
                    give_back(entry["cap"])
                    live.remove(entry)
                else:
                    assert not buf.returned
            elif kind == "view":
                if buf.release_requested:
                    with pytest.raises(StaleBufferError):
                        memoryview(buf)
                else:
                    entry["views"].append(memoryview(buf))
            elif kind == "unview" and entry["views"]:
                entry["views"].pop().release()
                if not entry["views"] and buf.release_requested:
                    assert buf.returned
                    give_back(entry["cap"])
                    live.remove(entry)
        assert pool.unallocated_memory == non_pooled
        assert pool.free_buffers == free
        check_accounting(pool, sum(e["cap"] for e in live))
    for entry in live:
        for v in entry["views"]:
            v.release()
        entry["buf"].release()
    assert pool.available_memory == total and pool.queued == 0
