"""The soak (issue 16): kprod producing at half of its measured maximum rate through
Toxiproxy to the 3-node cluster, a fault every ``fault_every`` seconds drawn at random
from the network-fault scenarios, the producer process's RSS, threads, fds and GC
counts sampled every second (tests/faults/soak_worker.py), then the checks:

* RSS <= baseline + buffer.memory + 64 MiB throughout;
* the RSS slope over the late half about zero (least squares, see ``slope_limit``;
  the slope of RSS less the buffer pool's buffers is reported too);
* threads and fds back to their baseline after close();
* nothing lost: every record in the log exactly once, per key in send order, except
  records that failed (none are expected), read back by confluent-kafka;
* flush(timeout) and close(timeout) returned within timeout + 1 s.

A PNG of RSS and throughput over time goes next to the JSON report. ``make soak`` runs
30 minutes; the test suite runs a short form (``KPROD_SOAK_SHORT_SECONDS``)."""
from __future__ import annotations

import json
import pathlib
import random
import subprocess
import sys
import threading
import time
from typing import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from .support import busiest_leader, leader_of

MIB = 1024 * 1024
RSS_HEADROOM = 64 * MIB
ROOT = pathlib.Path(__file__).resolve().parents[2]


# -- the faults: each injects one and heals it before returning ------------------------------

def fault_partition(cluster, proxies, topic: str, rng: random.Random) -> str:
    """(a) The busiest leader partitioned away from the producer: black hole for longer
    than request.timeout.ms (3 s), then a disabled proxy."""
    victim = busiest_leader(cluster, topic)
    proxy = proxies.proxy(victim)
    proxy.black_hole()
    time.sleep(4.0)
    proxy.disable()
    time.sleep(3.0)
    proxies.heal()
    return f"partition broker {victim}"


def fault_leader_kill(cluster, proxies, topic: str, rng: random.Random) -> str:
    """(a) SIGKILL a partition leader, restart it, wait until it is in sync again."""
    victim = leader_of(cluster, topic, rng.randrange(6))
    cluster.kill_broker(victim)
    time.sleep(2.0)
    cluster.start_broker(victim)
    cluster.wait_for_topic(topic, in_sync=True, timeout=120)
    return f"kill broker {victim}"


def fault_latency_bandwidth(cluster, proxies, topic: str, rng: random.Random) -> str:
    """(c) 200 +- 100 ms on every answer, 5 MB/s per link towards the brokers, 10 s."""
    for proxy in proxies.all():
        proxy.latency(200, 100, stream="downstream")
        proxy.bandwidth(5000, stream="upstream")
    time.sleep(10.0)
    proxies.heal()
    return "latency+bandwidth"


def fault_reset_peer(cluster, proxies, topic: str, rng: random.Random) -> str:
    """(d) Connections reset mid-request / mid-response, 8 rounds."""
    for i in range(8):
        for proxy in proxies.all():
            proxy.reset_peer(0, stream="downstream" if i % 2 == 0 else "upstream")
        time.sleep(0.1)
        proxies.heal()
        time.sleep(0.5)
    return "reset_peer"


def fault_slice_and_cut(cluster, proxies, topic: str, rng: random.Random) -> str:
    """Answers a few bytes at a time, and links cut after some bytes, 6 s."""
    for proxy in proxies.all():
        proxy.slicer(7, 5, delay_us=20, stream="downstream")
        proxy.limit_data(rng.choice((3_000, 20_000, 150_000)),
                         stream=rng.choice(("upstream", "downstream")))
    time.sleep(3.0)
    for proxy in proxies.all():
        for toxic in proxy.toxics():
            if toxic["type"] == "limit_data":
                proxy.remove_toxic(toxic["name"])
    time.sleep(3.0)
    proxies.heal()
    return "slicer+limit_data"


FAULTS: list[Callable] = [fault_partition, fault_leader_kill, fault_latency_bandwidth,
                          fault_reset_peer, fault_slice_and_cut]


# -- the run -------------------------------------------------------------------------------

class WorkerOutput:
    """The worker's JSON lines, read on a thread."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.events: dict = {}
        self.samples: list[dict] = []
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue                 # a stray line (a warning): not ours
            if event["event"] == "sample":
                self.samples.append(event)
            else:
                self.events[event["event"]] = event
            if event["event"] in ("soak_started", "done"):
                self.started.set()


def run_soak(cluster, proxies, seconds: float, fault_every: float = 60.0,
             seed: int | None = None, out_dir: pathlib.Path | None = None,
             measure_seconds: float = 10.0) -> dict:
    """Run the soak; returns the report (also written as JSON next to the PNG)."""
    seed = random.randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    topic = cluster.create_topic(f"soak-{int(time.time())}-{seed}", 6, 3)
    out_dir = out_dir or ROOT / "build" / "soak"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / f"soak-{time.strftime('%Y%m%d-%H%M%S')}-{int(seconds)}s"
    stderr = open(f"{stem}.stderr.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.soak_worker",
         "--bootstrap", cluster.bootstrap_for("PROXIED"), "--topic", topic,
         "--seconds", str(seconds), "--measure-seconds", str(measure_seconds)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    out = WorkerOutput(proc)
    faults: list[tuple] = []
    try:
        if not out.started.wait(measure_seconds + 300):
            raise AssertionError("soak worker never started its soak phase")
        started = out.events["soak_started"]["t"]
        print(f"soak: max rate {out.events['max_rate']['max_rate']:.0f} records/s, "
              f"running {seconds:.0f} s at {out.events['max_rate']['rate']:.0f}/s, "
              f"seed {seed}", flush=True)
        # Faults on this (the main) thread: brokers restarted here die with it.
        k = 1
        while proc.poll() is None and time.monotonic() < started + seconds - 15:
            due = started + k * fault_every
            if time.monotonic() < due:
                time.sleep(min(1.0, due - time.monotonic()))
                continue
            fault = rng.choice(FAULTS)
            t0 = time.monotonic()
            what = fault(cluster, proxies, topic, rng)
            faults.append((t0 - started, time.monotonic() - started, what))
            last = out.samples[-1] if out.samples else {}
            print(f"soak: {faults[-1][0]:.0f}-{faults[-1][1]:.0f} s {what}; acked "
                  f"{last.get('acked')}, RSS {last.get('rss', 0) / MIB:.0f} MiB", flush=True)
            k += 1
        proc.wait(seconds + 600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proxies.heal()
        out.thread.join(10)
        stderr.close()
    done = out.events.get("done")
    if done is None:
        raise AssertionError(f"soak worker exited {proc.returncode} without a report; "
                             f"see {stem}.stderr.log")
    with open(f"{stem}.samples.jsonl", "w") as fh:     # for a look afterwards
        for event in [*out.events.values(), *out.samples]:
            fh.write(json.dumps(event) + "\n")
    report = evaluate(out, faults, seed, seconds)
    report["log"] = verify_log(cluster.bootstrap_servers, topic, done)
    report["png"] = str(plot(out, faults, report, f"{stem}.png"))
    pathlib.Path(f"{stem}.json").write_text(json.dumps(report, indent=1, default=str))
    report["json"] = f"{stem}.json"
    return report


def slope_limit(late_minutes: float) -> float:
    """MiB/min the late-half RSS slope may reach: 0.5 MiB/min, or 8 MiB over the late
    half when that is short (allocator noise dominates a minute-long window)."""
    return max(0.5, 8.0 / max(late_minutes, 1e-9))


def evaluate(out: WorkerOutput, faults: list, seed: int, seconds: float) -> dict:
    done, baseline = out.events["done"], out.events["baseline"]
    started = out.events["soak_started"]["t"]
    soak = [s for s in out.samples if s["phase"] == "soak"]
    late = [s for s in soak if s["t"] - started >= seconds / 2]
    xs = [(s["t"] - started) / 60 for s in late]
    slope = _least_squares_slope(xs, [s["rss"] / MIB for s in late])
    # Reported beside it: RSS less what the buffer pool holds (in use + freed batch
    # buffers kept for reuse, as Java's BufferPool does), to tell a deeper backlog
    # from growth elsewhere.
    slope_outside = _least_squares_slope(
        xs, [(s["rss"] - s.get("pool_held", 0)) / MIB for s in late])
    late_minutes = (xs[-1] - xs[0]) if len(xs) > 1 else 0.0
    rss_limit = baseline["rss"] + done["buffer_memory"] + RSS_HEADROOM
    peak = max(s["rss"] for s in out.samples)
    rates = _rates(soak)
    return {
        "seed": seed, "seconds": seconds, "faults": faults,
        "max_rate": round(out.events["max_rate"]["max_rate"]),
        "target_rate": round(out.events["max_rate"]["rate"]),
        "mean_rate": round(sum(rates) / len(rates)) if rates else 0,
        "sent": done["sent"], "acked": done["acked"], "failed": done["failed"],
        "baseline_rss_mib": round(baseline["rss"] / MIB, 1),
        "peak_rss_mib": round(peak / MIB, 1), "rss_limit_mib": round(rss_limit / MIB, 1),
        "late_slope_mib_per_min": round(slope, 3),
        "late_slope_outside_pool_mib_per_min": round(slope_outside, 3),
        "peak_pool_held_mib": round(max(s.get("pool_held", 0) for s in out.samples) / MIB, 1),
        "slope_limit_mib_per_min": round(slope_limit(late_minutes), 3),
        "threads": (baseline["threads"], done["after_close"]["threads"]),
        "fds": (baseline["fds"], done["after_close"]["fds"]),
        "gc_collections": [a - b for a, b in zip(done["after_close"]["gc"], baseline["gc"])],
        "flush_s": round(done["flush_s"], 2), "close_s": round(done["close_s"], 2),
        "flush_error": done["flush_error"],
    }


def check(report: dict) -> None:
    """The pass criteria (assertions, with the report in every message)."""
    brief = {k: v for k, v in report.items() if k not in ("faults",)}
    assert report["peak_rss_mib"] <= report["rss_limit_mib"], brief
    assert abs(report["late_slope_mib_per_min"]) <= report["slope_limit_mib_per_min"], brief
    assert report["threads"][1] == report["threads"][0], brief
    assert report["fds"][1] == report["fds"][0], brief
    assert report["flush_error"] is None, brief
    assert report["flush_s"] <= 180 + 1 and report["close_s"] <= 10 + 1, brief
    assert report["failed"] == 0, brief
    assert report["log"]["in_log"] == report["acked"] == report["sent"], brief


def _least_squares_slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def _rates(samples: list[dict]) -> list[float]:
    return [(b["acked"] - a["acked"]) / (b["t"] - a["t"])
            for a, b in zip(samples, samples[1:]) if b["t"] > a["t"]]


def verify_log(bootstrap: str, topic: str, done: dict, timeout: float = 1800.0) -> dict:
    """Read the topic back with confluent-kafka (direct listener): per key, the sequence
    numbers in log order are 0, 1, 2, ... with only failed records left out: nothing
    acknowledged lost, nothing twice, order kept. Memory: one counter per key."""
    sent_per_key = done["sent_per_key"]
    failed = {(k, s) for k, s, _ in done["failed_records"]}
    assert len(failed) == done["failed"], "more failures than the worker listed"
    expect = [0] * len(sent_per_key)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"kprod-soak-{time.time_ns()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "fetch.max.bytes": 64 * MIB, "max.partition.fetch.bytes": 16 * MIB})
    in_log = 0
    try:
        md = c.list_topics(topic, timeout=20)
        parts = sorted(md.topics[topic].partitions)
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
                for p in parts}
        position = {p: 0 for p in parts}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        deadline = time.monotonic() + timeout
        while any(position[p] < ends[p] for p in parts):
            assert time.monotonic() < deadline, f"read back timed out at {position} of {ends}"
            for msg in c.consume(num_messages=10000, timeout=0.5):
                assert msg.error() is None, msg.error()
                k, s = (int(x) for x in msg.value().split(b":")[:2])
                while expect[k] < s and (k, expect[k]) in failed:
                    expect[k] += 1           # a failed record may be missing
                assert s == expect[k], (
                    f"key {k}: seq {s} at {msg.partition()}@{msg.offset()}, expected "
                    f"{expect[k]} ({'duplicate or reordered' if s < expect[k] else 'lost'})")
                expect[k] = s + 1
                in_log += 1
                position[msg.partition()] = msg.offset() + 1
    finally:
        c.close()
    for k, n in enumerate(sent_per_key):
        while expect[k] < n and (k, expect[k]) in failed:
            expect[k] += 1
        assert expect[k] == n, f"key {k}: records {expect[k]}..{n - 1} never in the log"
    return {"in_log": in_log, "partitions": len(parts)}


def plot(out: WorkerOutput, faults: list, report: dict, path: str) -> pathlib.Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = out.events["soak_started"]["t"]
    samples = out.samples
    minutes = [(s["t"] - t0) / 60 for s in samples]
    fig, (ax_rss, ax_rate) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    ax_rss.plot(minutes, [s["rss"] / MIB for s in samples], lw=1, label="RSS")
    ax_rss.plot(minutes, [(s["rss"] - s.get("pool_held", 0)) / MIB for s in samples], lw=1,
                label="RSS less the buffer pool's buffers")
    ax_rss.axhline(report["rss_limit_mib"], color="red", ls="--",
                   label="baseline + buffer.memory + 64 MiB")
    ax_rss.axhline(report["baseline_rss_mib"], color="grey", ls=":", label="baseline")
    ax_rss.set_ylabel("MiB")
    ax_rss.legend(loc="lower right", fontsize=8)
    rates = _rates(samples)
    ax_rate.plot(minutes[1:], [r / 1000 for r in rates], lw=1, color="green")
    ax_rate.axhline(report["target_rate"] / 1000, color="grey", ls=":", label="target")
    ax_rate.set_ylabel("acked k records/s")
    ax_rate.set_xlabel("minutes since the soak phase began (before 0: max-rate measurement)")
    for start, end, what in faults:
        for ax in (ax_rss, ax_rate):
            ax.axvspan(start / 60, max(end, start + 1) / 60, color="orange", alpha=0.3)
        ax_rate.annotate(what, (start / 60, 0.03), xycoords=("data", "axes fraction"),
                         fontsize=7, rotation=90, va="bottom")
    fig.suptitle(f"kprod soak: {report['seconds'] / 60:.0f} min at "
                 f"{report['target_rate']} records/s (half of {report['max_rate']}), "
                 f"{len(faults)} faults (orange), seed {report['seed']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return pathlib.Path(path)
