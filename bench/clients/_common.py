"""Shared plumbing of the per-client runners (one process per run).

A runner is ``python -m bench.clients.<name> '<json spec>'``; it prints one JSON
line (the last line of stdout) with what it measured in-process. The spec keys:
bootstrap, topic, num_records, key_size, payload_file, acks ("1"/"all"),
compression, idempotence, batch_size, linger_ms, rate (records/s, 0 = unthrottled),
latency (bool: keep per-record send->ack latency), headers (headers per record, 0 =
none), warmup_records (what the harness expects on the broker before the clock);
optional: tls (``{"ca": PEM CA file}``), and avro (``{"registry_url", "values_file"}``: values are
the Customer dicts of that JSON file, serialized through the schema registry; the
runner also times its serializer alone, ``serialize_us`` in the result line).

Everything a record needs is built before the clock starts, and every runner sends
and flushes one warm-up record first (metadata, connection, producer id), so the
clock (:class:`Clock`: from the first timed send until flush() returns, CPU over the
same window) measures the client only. Values come from the harness's payload file,
keys are 16-byte decimal strings, headers come from :func:`header_pool`; Java's runner
(bench/java/KprodBench.java) builds the same records. Settings: bench.clients.settings.
"""
from __future__ import annotations

import functools
import json
import os
import random
import resource
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple


def load_spec() -> Dict[str, Any]:
    return json.loads(sys.argv[1])


# The Avro scenario's value schema (the project's Customer record; email defaults to null).
CUSTOMER_SCHEMA: Dict[str, Any] = {
    "namespace": "customerManagement.avro", "type": "record", "name": "Customer",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "name", "type": "string"},
        {"name": "email", "type": ["null", "string"], "default": None},
    ],
}


def customers(n: int = 1024, seed: int = 7) -> List[Dict[str, Any]]:
    """``n`` distinct Customer dicts (about a quarter without email), deterministic."""
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    out = []
    for i in range(n):
        first = "".join(rnd.choices(letters, k=rnd.randint(3, 10))).capitalize()
        last = "".join(rnd.choices(letters, k=rnd.randint(4, 12))).capitalize()
        email = None if rnd.random() < 0.25 else \
            f"{first.lower()}.{last.lower()}{i}@example.com"
        out.append({"id": rnd.randint(1, 2 ** 31 - 1), "name": f"{first} {last}",
                    "email": email})
    return out


def avro_values(spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    with open(spec["avro"]["values_file"]) as f:
        return json.load(f)


def header_pool(n: int, count: int) -> List[Optional[List[Tuple[str, bytes]]]]:
    """``n`` header lists of ``count`` headers (0: None): a 16-byte trace id that differs
    per entry, then fixed small ones. Java's runner builds the same (KprodBench.java)."""
    if not count:
        return [None] * n
    fixed = [("source", b"kprod-bench"), ("schema", b"v1"), ("region", b"eu-1")]
    return [[("trace-id", str(i * 104729).zfill(16)[-16:].encode())] + fixed[:count - 1]
            for i in range(n)]


def records(spec: Dict[str, Any]) -> Tuple[List[Optional[bytes]], List[bytes],
                                           List[Optional[List[Tuple[str, bytes]]]]]:
    """(keys, values, headers) pools, cycled by index: ``keys[i % len]`` (None when
    unkeyed, or without headers)."""
    with open(spec["payload_file"], "rb") as f:
        values = [v for v in f.read().split(b"\n") if v]
    n = len(values)
    ks = spec["key_size"]
    keys: List[Optional[bytes]] = [None] * n if not ks else \
        [str(i * 7919).zfill(ks)[-ks:].encode() for i in range(n)]
    return keys, values, header_pool(n, spec.get("headers", 0))


class Pacer:
    """Fixed-rate pacing: record i is due at start + i/rate (no drift, no bursts)."""

    def __init__(self, rate: float, sleep: Callable[[float], Any] = time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.sleep = sleep
        self.start = time.perf_counter()

    def wait(self, i: int) -> None:
        if self.interval:
            ahead = self.start + i * self.interval - time.perf_counter()
            if ahead > 0.0005:   # below ~0.5 ms sleeping costs more than it gains
                self.sleep(ahead)


# Quantiles every runner reports (Java's too): the CDF chart's points and p50/p99/p99.9.
CDF_QUANTILES = [i / 100 for i in range(100)] + [0.995, 0.999, 0.9995, 0.9999]


def latency_summary(lat_ms: List[float]) -> Dict[str, Any]:
    """p50/p99/p99.9/max and the CDF points of sorted-able latencies in ms; the pick is
    ``sorted[min(n-1, int(q*n))]`` (KprodBench.java does the same)."""
    lat = sorted(lat_ms)
    if not lat:
        return {}
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return {"p50": pick(0.50), "p99": pick(0.99), "p999": pick(0.999), "max": lat[-1],
            "count": len(lat), "cdf": [[q, pick(q)] for q in CDF_QUANTILES] + [[1.0, lat[-1]]]}


class Latencies:
    """Per-record send and ack times (only in paced scenarios)."""

    def __init__(self, n: int) -> None:
        self.sent = [0.0] * n
        self.acked = [0.0] * n

    def summary(self) -> Dict[str, Any]:
        return latency_summary([(a - s) * 1000.0 for s, a in zip(self.sent, self.acked) if a])


class Tally:
    """Delivery outcome counters, updated from the client's callbacks."""

    def __init__(self) -> None:
        self.acked = 0
        self.errors = 0
        self.first_error: Optional[str] = None

    def error(self, exc: Any) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = repr(exc)


class DeliveryCallbacks:
    """The delivery callbacks of the runners whose client calls ``callback(metadata,
    exception)`` (kprod, and the pacer baseline that mirrors it): ``on_ack`` counts
    into ``tally``, ``timed(i)`` also stamps record i's acknowledgement time, and
    ``warm(t)`` counts the warm-up record into its own Tally."""

    def __init__(self, tally: Tally, lat: Optional[Latencies]) -> None:
        self.lat = lat
        self.on_ack = functools.partial(_count, tally)

    @staticmethod
    def warm(tally: Tally) -> Callable[[Any, Any], None]:
        return functools.partial(_count, tally)

    def timed(self, i: int) -> Callable[[Any, Any], None]:
        return functools.partial(self._on_ack_timed, i)

    def _on_ack_timed(self, i: int, metadata: Any, exc: Any) -> None:
        assert self.lat is not None
        self.lat.acked[i] = time.perf_counter()
        self.on_ack(metadata, exc)


def _count(tally: Tally, metadata: Any, exc: Any) -> None:
    if exc is None:
        tally.acked += 1
    else:
        tally.error(exc)


def callback_send_loop(spec: Dict[str, Any], send: Callable[..., Any],
                       keys: List[Optional[bytes]], values: List[Any], headers: List[Any],
                       lat: Optional[Latencies], callbacks: DeliveryCallbacks) -> None:
    """The timed loop of the callback runners: ``send(topic, value, key, headers=,
    callback=)`` per record, cycling the pools; paced (Pacer.wait, and the send time
    stamped) when the scenario has a rate or keeps latencies."""
    n, pool, topic = spec["num_records"], len(values), spec["topic"]
    if lat is None and not spec["rate"]:
        on_ack = callbacks.on_ack
        for i in range(n):
            j = i % pool
            send(topic, values[j], keys[j], headers=headers[j], callback=on_ack)
        return
    pacer = Pacer(spec["rate"])
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            send(topic, values[j], keys[j], headers=headers[j], callback=callbacks.timed(i))
        else:
            send(topic, values[j], keys[j], headers=headers[j], callback=callbacks.on_ack)


def cpu_times() -> Tuple[float, float]:
    """(user, system) CPU seconds of every thread of this process, one getrusage call."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def peak_rss_mb() -> float:
    """This process image's peak RSS (VmHWM). Not ru_maxrss: across fork+exec that keeps
    the parent's (the harness's) peak, so every client would report at least that."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def time_serializer(call: Callable[[Any], Any], values: List[Any], passes: int = 5) -> float:
    """The serializer alone: median over ``passes`` of one pass over ``values``, in CPU
    microseconds of this thread per value (thread CPU time, not wall time: on a shared box
    time spent descheduled doesn't count). Avro scenario, before the produce loop's clock."""
    per_pass = []
    for _ in range(passes):
        t0 = time.thread_time()
        for v in values:
            call(v)
        per_pass.append((time.thread_time() - t0) / len(values) * 1e6)
    return sorted(per_pass)[len(per_pass) // 2]


def emit(spec: Dict[str, Any], tally: Tally, elapsed: float, cpu: float,
         latencies: Any, notes: List[str], rss_mb: Optional[float] = None,
         serialize_us: Optional[float] = None, warmup_acked: int = 0,
         clock: Optional["Clock"] = None) -> None:
    """Print the result line; ``latencies`` is a :class:`Latencies`, a summary dict or None.
    ``warmup_acked``: records acknowledged before the clock (the harness checks it).
    ``clock``: the stopped :class:`Clock` of ``cpu``; its (user, system) split is written
    as ``cpu_user_s`` / ``cpu_system_s`` and its per-thread CPU as ``cpu_threads_s``
    (null without it)."""
    if isinstance(latencies, Latencies):
        latencies = latencies.summary()
    user, system = clock.split if clock is not None else (None, None)
    out = {"sent": spec["num_records"], "acked": tally.acked, "errors": tally.errors,
           "first_error": tally.first_error, "elapsed_s": elapsed, "cpu_s": cpu,
           "cpu_user_s": user, "cpu_system_s": system,
           "cpu_threads_s": clock.threads if clock is not None else None,
           "latency_ms": latencies, "notes": notes, "warmup_acked": warmup_acked,
           "max_rss_mb": peak_rss_mb() if rss_mb is None else rss_mb,
           "serialize_us": serialize_us}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


# Printed (and flushed) when the clock starts and stops, so the harness reads the
# broker's CPU at the same two moments (KprodBench.java prints the same lines).
CLOCK_START, CLOCK_STOP = "KPROD-BENCH-CLOCK start", "KPROD-BENCH-CLOCK stop"


def mark(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Clock:
    """The one clock of every runner: wall time and this process's CPU, read together at
    the first timed send (:meth:`start`) and when flush() has returned (:meth:`stop`).
    The CPU is user + system time (getrusage); :attr:`split` keeps the two apart, and
    :attr:`threads` shares it out by thread (where it goes: the caller or the client's
    own threads)."""

    split: Tuple[float, float] = (0.0, 0.0)   # (user, system) s of the window, after stop()
    threads: Optional[Dict[str, float]] = None   # after stop(): see thread_cpu_shares

    def start(self) -> None:
        mark(CLOCK_START)
        self.caller = threading.get_native_id()
        self.threads0 = thread_cpu()
        self.cpu0, self.t0 = cpu_times(), time.perf_counter()

    def stop(self) -> Tuple[float, float]:
        """(elapsed s, CPU s) since :meth:`start`; the CPU's user and system parts go to
        :attr:`split`, its share per thread to :attr:`threads`."""
        elapsed, (user, system) = time.perf_counter() - self.t0, cpu_times()
        self.split = (user - self.cpu0[0], system - self.cpu0[1])
        self.threads = thread_cpu_shares(self.threads0, thread_cpu(), self.caller,
                                         self.split[0] + self.split[1])
        mark(CLOCK_STOP)
        return elapsed, self.split[0] + self.split[1]


def thread_cpu() -> Dict[int, Tuple[str, float]]:
    """Each live thread of this process: tid -> (name, CPU s), from /proc/self/task: the
    scheduler's run time in ns (schedstat's first field; stat's utime + stime count
    10 ms ticks, too coarse for a thread's share of a short run). Empty where /proc
    has no such files."""
    out: Dict[int, Tuple[str, float]] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                ran_ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue        # the thread ended meanwhile, or no schedstat here
        out[int(tid)] = (name, ran_ns / 1e9)
    return out


def thread_cpu_shares(before: Dict[int, Tuple[str, float]],
                      after: Dict[int, Tuple[str, float]], caller: int,
                      total: float) -> Optional[Dict[str, float]]:
    """CPU s of the window by thread name: ``caller`` for the thread that ran the timed
    loop, the others under their own names (summed when several share one), and
    ``exited`` for what threads that ended inside the window used (the process total
    minus the live threads', when more than getrusage's and the scheduler's clocks
    differ by). None without /proc."""
    if not after:
        return None
    shares: Dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        used = cpu - before.get(tid, (name, 0.0))[1]
        key = "caller" if tid == caller else name
        shares[key] = shares.get(key, 0.0) + used
    rest = total - sum(shares.values())
    if rest > 0.01 + 0.02 * total:
        shares["exited"] = rest
    return {name: round(cpu, 4) for name, cpu in shares.items() if cpu > 0}


async def asyncio_send_loop(spec: Dict[str, Any], send: Callable[..., Any],
                            flush: Callable[[], Any], clock: Clock,
                            ) -> Tuple[Tally, Optional[Latencies], float, float, int]:
    """The asyncio runners' loop (aiokafka, kprod-aio): one warm-up record sent and
    flushed before the clock, then ``(await send(topic, value, key, headers=))
    .add_done_callback(...)`` per record, paced with asyncio.sleep so the loop keeps
    running, then ``await flush()``. Returns (tally, latencies, elapsed s, CPU s,
    warm-up records acknowledged)."""
    import asyncio
    keys, values, headers = records(spec)
    n, pool, topic = spec["num_records"], len(values), spec["topic"]
    tally = Tally()
    lat = Latencies(n) if spec["latency"] else None
    warm = Tally()

    def count(t: Tally, fut: Any) -> None:
        exc = fut.exception()
        if exc is None:
            t.acked += 1
        else:
            t.error(exc)

    on_done = functools.partial(count, tally)

    def on_done_timed(i: int, fut: Any) -> None:
        lat.acked[i] = time.perf_counter()   # type: ignore[union-attr]
        on_done(fut)

    (await send(topic, values[0], keys[0], headers=headers[0])).add_done_callback(
        functools.partial(count, warm))
    await flush()
    await asyncio.sleep(0)
    pacer = Pacer(spec["rate"])
    clock.start()
    for i in range(n):
        if pacer.interval:
            ahead = pacer.start + i * pacer.interval - time.perf_counter()
            if ahead > 0.0005:
                await asyncio.sleep(ahead)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            (await send(topic, values[j], keys[j], headers=headers[j])).add_done_callback(
                functools.partial(on_done_timed, i))
        else:
            (await send(topic, values[j], keys[j], headers=headers[j])).add_done_callback(
                on_done)
    await flush()
    await asyncio.sleep(0)   # done callbacks are scheduled, not called, by the future
    elapsed, cpu = clock.stop()
    return tally, lat, elapsed, cpu, warm.acked
