"""The benchmark's summaries, Markdown tables and charts (bench.harness runs; this reports)."""
from __future__ import annotations

import pathlib
import statistics
from typing import Any, Dict, List, Optional

from bench.clients import settings

# The paced scenarios' CPU baseline (bench/clients/pacer.py): no Kafka client, no columns
# in the throughput tables (it runs in paced scenarios only).
PACER = "pacer"
# Clients whose paced loop is not the Python Pacer's (the JVM's own): left out of the
# "CPU above the pacer alone" line, as subtracting a Python loop's cost says nothing there.
NOT_PYTHON_PACED = {"java", "ceiling", PACER}
PACER_NOTE = ("pacer: the kprod runner's paced loop (Pacer.wait, the perf_counter stamp and "
              "a functools.partial callback per record, called at once as if acknowledged) "
              "with no Kafka client, so its CPU is what pacing and latency bookkeeping cost "
              "every paced Python runner by themselves; \"CPU above the pacer alone\" is a "
              "Python client's median CPU s/M minus the pacer's (an estimate for runners "
              "that sleep elsewhere: confluent-kafka in poll(), the asyncio ones in "
              "asyncio.sleep; java paces in the JVM and is left out).")


def above_pacer(per: Dict[str, Any], clients: List[str]) -> Optional[str]:
    """The line under a paced table: each Python client's median CPU s/M minus the
    pacer's median, and kprod's excess ÷ confluent's; None when the pacer has no valid
    run (or no Python client has one)."""
    base = per.get(PACER, {}).get("cpu_s_per_m")
    if base is None:
        return None
    above = {c: per[c]["cpu_s_per_m"]["median"] - base["median"] for c in clients
             if c not in NOT_PYTHON_PACED and per[c]["cpu_s_per_m"] and not per[c]["not_run"]}
    if not above:
        return None
    parts = [f"{c} {x:.2f}" for c, x in above.items()]
    if "kprod" in above and above.get("confluent", 0.0) > 0:
        parts.append(f"kprod ÷ confluent {above['kprod'] / above['confluent']:.2f}x")
    return (f"CPU above the pacer alone (median pacer {base['median']:.2f} s/M): "
            + ", ".join(parts))
# Under the by-thread lines: what the names mean.
THREAD_NOTE = ("caller: the thread running the timed loop (send/produce, pacing, and "
               "confluent-kafka's callbacks inside poll); the rest by the client's thread "
               "names (kprod-sender: kprod's I/O thread, which also runs the callbacks; "
               "rdk:*: librdkafka's); the scheduler's run time per thread (/proc schedstat); "
               "java reports no threads")
# What the runners cannot make equal; printed with every report.
UNMATCHED = [
    "Every client: acks, idempotence, linger.ms, batch.size, max.in.flight=5, 32 MiB of "
    "buffering, max request 1 MiB and the codec are set explicitly (table above); codec "
    "levels are each client's default.",
    "Socket send buffer: the OS default for every client (Java and kprod get "
    "send.buffer.bytes=-1 instead of their fixed 128 KiB default, librdkafka "
    "socket.send.buffer.bytes=0, kafka-python send_buffer_bytes=None; aiokafka and the "
    "ceiling never set one).",
    "librdkafka: queue.buffering.max.kbytes=32768, queue.buffering.max.messages=%d and "
    "batch.num.messages=%d, so bytes are the limit; message.max.bytes=1048576."
    % (settings.RDKAFKA_QUEUE_MESSAGES, settings.RDKAFKA_BATCH_MESSAGES),
    *(f"{client}: {why}." for client, why in sorted(settings.UNMATCHABLE.items())),
    "Clock: from the first timed send until flush() returns, after one warm-up record sent "
    "and flushed; CPU over the same window (getrusage for Python, all threads, user and "
    "system time also apart; the JVM's process CPU time for java, all its threads incl. GC "
    "and JIT, a total only: its user/system columns show –). java sends its JVM warm-up "
    "records first, in the same JVM, off the clock. In the bulk-* scenarios kprod, "
    "confluent-kafka and the ceiling first send a buffer.memory's worth of records more "
    "through the path they are timed on (send_many, produce_batch, pipelined requests), "
    "so that no clock includes a fresh client's first touch of its buffers. "
    "With the kernel's tick-based CPU "
    "accounting (CONFIG_TICK_CPU_ACCOUNTING) the user/system split comes from samples at "
    "timer ticks: the total is exact, the split an estimate.",
    "Callbacks: one per record for every client (confluent-kafka serves them in poll() "
    "every 256 records, or every record when paced), except in the bulk-* scenarios: "
    "kprod's one send_many has one callback for the call; confluent-kafka's produce_batch "
    "still reports each record to its callback.",
    "ceiling: raw Produce v7 requests of pre-built, non-idempotent batches (no "
    "sequence checks on the broker), one batch per partition in a request, as many "
    "partitions as fit in 1 MiB, 5 in flight, one connection; a compressed batch holds "
    "as many records as an uncompressed one; the broker's cost with a client costing "
    "almost nothing.",
    "Broker: each run's topic is deleted after its checks, and its log files at once "
    "(log.segment.delete.delay.ms=0), so later runs reuse that memory instead of "
    "faulting in pages never used before, which cost far more on a VM.",
    "Broker CPU is the broker JVM's /proc utime+stime read when the runner's clock "
    "starts and stops (the runner prints a mark at both moments), per million timed "
    "records; /proc counts in clock ticks (10 ms), so short windows are coarse.",
    "Paced runs: record i is due at start + i/rate; latency is send() to the "
    "acknowledgement callback, per record.",
]


def _stats(values: List[float]) -> Optional[Dict[str, float]]:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def summarize(runs: List[Any], clients: List[str], scenarios: List[str],
              skipped: Optional[Dict[str, Dict[str, str]]] = None) -> Dict[str, Any]:
    """Per scenario and client: medians with min-max over the valid runs, and ratios
    computed within each repeat (kprod / peer, client / ceiling), so the shared machine's
    drift between repeats cancels out."""
    skipped = skipped or {}
    out: Dict[str, Any] = {}
    for name in scenarios:
        valid = {(r.client, r.repeat): r for r in runs if r.scenario == name and r.valid}
        per: Dict[str, Any] = {}
        for client in clients:
            ok = [r for r in runs if r.scenario == name and r.client == client and r.valid]
            bad = [r for r in runs if r.scenario == name and r.client == client and not r.valid]

            def same_repeat(numerator: str, denominator: str,
                            valid: Dict[Any, Any] = valid) -> Optional[Dict[str, float]]:
                return _stats([valid[(numerator, r)].records_per_s /
                               valid[(denominator, r)].records_per_s
                               for (c, r) in valid if c == numerator
                               and (denominator, r) in valid and numerator != denominator])

            lat = [r for r in ok if r.latency_ms]
            cdf_run = sorted(lat, key=lambda r: r.latency_ms["p99"])[len(lat) // 2] if lat else None
            per[client] = {
                "records_per_s": _stats([r.records_per_s for r in ok]),
                "mb_per_s": _stats([r.mb_per_s for r in ok]),
                "cpu_s_per_m": _stats([r.cpu_s_per_m for r in ok]),
                "cpu_user_s_per_m": _stats([r.cpu_user_s_per_m for r in ok]),
                "cpu_system_s_per_m": _stats([r.cpu_system_s_per_m for r in ok]),
                "cpu_threads_s_per_m": _thread_stats(ok),
                "broker_cpu_s_per_m": _stats([r.broker_cpu_s_per_m for r in ok]),
                "max_rss_mb": _stats([r.max_rss_mb for r in ok]),
                "elapsed_s": _stats([r.elapsed_s for r in ok]),
                "serialize_us": _stats([r.serialize_us for r in ok if r.serialize_us]),
                "latency_ms": {q: _stats([r.latency_ms.get(q) for r in lat])
                               for q in ("p50", "p99", "p999", "max")},
                "cdf": cdf_run.latency_ms.get("cdf") if cdf_run else None,
                "records": sorted({r.records for r in ok}),
                "loaded_runs": sum(r.loaded for r in runs if r.scenario == name
                                   and r.client == client),
                "notes": sorted({n for r in ok for n in (r.notes or [])}),
                "invalid_runs": [f"repeat {r.repeat + 1}: {r.problem}" for r in bad],
                "not_run": skipped.get(name, {}).get(client),
                "kprod_ratio": same_repeat("kprod", client),
                "ceiling_fraction": same_repeat(client, "ceiling")
                if client != "ceiling" else None,
            }
            if client == "aiokafka":    # asyncio against asyncio: kprod.aio / aiokafka
                per[client]["aio_ratio"] = same_repeat("kprod-aio", "aiokafka")
        out[name] = per
    return out


def _thread_stats(runs: List[Any]) -> Dict[str, Dict[str, float]]:
    """Per thread name, the stats of its CPU s/M over the runs that report threads (a
    thread missing from one of them used nothing there)."""
    reported = [r.cpu_threads_s_per_m for r in runs if r.cpu_threads_s_per_m]
    names = sorted({name for threads in reported for name in threads})
    out = {}
    for name in names:
        st = _stats([threads.get(name, 0.0) for threads in reported])
        if st is not None:
            out[name] = st
    return out


def thread_lines(per: Dict[str, Any], clients: List[str]) -> List[str]:
    """One line per client whose runner reports threads: where its CPU went, median s/M
    per thread, largest first; threads under 0.05 s/M and under a tenth of the client's
    total are summed as "others" (a bulk client's whole CPU can be under 0.1 s/M)."""
    lines = []
    for c in clients:
        threads = per[c].get("cpu_threads_s_per_m") or {}
        if per[c]["not_run"] or not threads:
            continue
        medians = sorted(((st["median"], name) for name, st in threads.items()), reverse=True)
        floor = min(0.05, 0.1 * sum(m for m, _ in medians))
        shown = [f"{name} {_cpu(m)}" for m, name in medians if m >= floor]
        rest = sum(m for m, _ in medians if m < floor)
        if rest >= 0.0005:         # what would print as 0.000 is left out
            shown.append(f"others {_cpu(rest)}")
        lines.append(f"- {c}: " + ", ".join(shown))
    return lines


def _cpu(seconds_per_m: float) -> str:
    """CPU s/M with two decimals, three under 0.1 (the bulk paths' figures)."""
    return f"{seconds_per_m:.3f}" if seconds_per_m < 0.1 else f"{seconds_per_m:.2f}"


def _fmt(st: Optional[Dict[str, float]], fmt: str = "{:,.0f}", spread: bool = True,
         not_run: Optional[str] = None) -> str:
    if not_run:      # the client does not run this scenario (reason in the notes)
        return "n/a"
    if st is None:   # no valid run
        return "–"
    text = fmt.format(st["median"])
    if spread and st["n"] > 1:
        text += f" ({fmt.format(st['min'])}–{fmt.format(st['max'])})"
    return text


def _loaded_total(summary: Dict[str, Any]) -> int:
    return sum(d["loaded_runs"] for per in summary.values() for d in per.values())


def markdown(summary: Dict[str, Any], clients: List[str], meta: Dict[str, Any],
             scenarios: List[str]) -> str:
    from bench.harness import SCENARIOS, settings_of
    tput = [s for s in scenarios if not SCENARIOS[s].paced]
    paced = [s for s in scenarios if SCENARIOS[s].paced]
    tput_clients = [c for c in clients if c != PACER]   # it runs paced scenarios only
    total = sum(len(d["invalid_runs"]) + (d["records_per_s"] or {"n": 0})["n"]
                for per in summary.values() for d in per.values())
    loaded = _loaded_total(summary)
    start = " ".join(f"{x:.2f}" for x in meta.get("loadavg_start", []))
    end = " ".join(f"{x:.2f}" for x in meta.get("loadavg_end", []))
    lines = [f"## kprod end-to-end benchmark, {meta['started']}",
             f"Kafka {meta.get('kafka', '?')} (1 broker, KRaft, 127.0.0.1, full JIT: "
             f"`{meta.get('broker_jvm', '?')}`), {meta['cpus']} CPUs, {meta['repeats']} "
             f"interleaved repeat(s) in rotating client order; medians with (min–max); "
             f"ratios are medians of same-repeat ratios. Load average (1/5/15 min) "
             f"{start} at start, {end} at the end."
             + (f" kprod from {meta['kprod_src']}." if meta.get("kprod_src") else "")
             + (f" kprod at {meta['kprod_git']}." if meta.get("kprod_git") else "")
             + (f" **kprod/ changed on disk during the run** (now {meta['kprod_changed']}): "
                "later runs may have measured other code." if meta.get("kprod_changed") else ""),
             ""]
    if loaded:
        lines += [f"**Loaded machine: during {loaded} of {total} runs other processes used "
                  f"more than 0.3 cores. These figures are not a quiet-machine "
                  f"measurement.**", ""]
    first_load = (meta.get("loadavg_start") or [0.0])[0]
    if first_load > 1.5:
        lines += [f"**The machine was busy before the first run (1-minute load average "
                  f"{first_load:.2f}).**", ""]
    lines += ["### matched settings (every client)",
              "| scenario | what | acks | idempotence | linger.ms | batch.size | in flight "
              "| buffer | send buffer | compression | TLS |",
              "|---|---|---|---|---:|---:|---:|---:|---|---|---|"]
    for s in scenarios:
        m = settings_of(s)
        send_buffer = m.get("send_buffer", "os")      # older result files lack it
        lines.append(f"| {s} | {SCENARIOS[s].about} | {m['acks']} | {m['idempotence']} | "
                     f"{m['linger_ms']} | {m['batch_size']:,} | {m['max_in_flight']} | "
                     f"{m['buffer_bytes'] // 2 ** 20} MiB | "
                     f"{'OS default' if send_buffer == 'os' else send_buffer} | "
                     f"{m['compression']} | "
                     f"{m.get('tls', '–')} |")
    lines.append("")

    def table(title: str, key: str, fmt: str, spread: bool = True,
              rows: Optional[List[str]] = None, cols: Optional[List[str]] = None) -> None:
        cols = cols or tput_clients
        lines.extend([f"### {title}", "| scenario | " + " | ".join(cols) + " |",
                      "|---|" + "---:|" * len(cols)])
        for s in rows if rows is not None else tput:
            cells = [_fmt(summary[s][c][key], fmt, spread, summary[s][c]["not_run"])
                     + ("†" if summary[s][c]["notes"] and key == "records_per_s" else "")
                     for c in cols]
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")

    if tput:
        table("records/s", "records_per_s", "{:,.0f}")
        if "ceiling" in clients:
            table("fraction of the broker's ceiling (client ÷ ceiling, same repeat)",
                  "ceiling_fraction", "{:.2f}", cols=[c for c in tput_clients if c != "ceiling"])
        if "kprod" in clients and len(tput_clients) > 1:
            table("kprod ÷ peer (records/s, same repeat)", "kprod_ratio", "{:.2f}x",
                  cols=[c for c in tput_clients if c not in ("kprod", "ceiling")])
        if {"kprod-aio", "aiokafka"} <= set(clients):
            rows = [s for s in tput if summary[s]["aiokafka"].get("aio_ratio")]
            if rows:
                table("asyncio: kprod-aio ÷ aiokafka (same repeat)", "aio_ratio", "{:.2f}x",
                      rows=rows, cols=["aiokafka"])
        table("client CPU seconds per million records (the clock's window)", "cpu_s_per_m",
              "{:.2f}")
        by_thread = [(sc, thread_lines(summary[sc], tput_clients)) for sc in tput]
        if any(found for _, found in by_thread):
            lines.append(f"### client CPU by thread, s / M records (medians; {THREAD_NOTE})")
            for sc, found in by_thread:
                lines.extend([f"{sc}:"] + found if found else [])
            lines.append("")
        table("broker CPU seconds per million records (the clock's window)", "broker_cpu_s_per_m",
              "{:.2f}", spread=False)
        table("MB/s (key + value bytes, 2^20)", "mb_per_s", "{:.1f}", spread=False)
        table("peak RSS MB", "max_rss_mb", "{:.0f}", spread=False)
        avro = [s for s in tput if SCENARIOS[s].avro]
        if avro:
            table("serializer alone, CPU µs per record (Avro; thread CPU over the 1024 "
                  "values, median of 5 passes, before the clock)", "serialize_us", "{:.2f}",
                  rows=avro, cols=[c for c in clients if not summary[avro[0]][c]["not_run"]])
        counts = {}
        for c in clients:
            ns = sorted({n for s in tput for n in summary[s][c]["records"]})
            if ns:
                counts[c] = f"{ns[0]:,}" + (f"–{ns[-1]:,}" if len(ns) > 1 else "")
        lines.append("Records per throughput run: " + ", ".join(f"{c} {n}" for c, n in
                                                                counts.items())
                     + (f"; java sends {meta['java_warmup']:,} warm-up records first"
                        if "java" in clients else "") + ".\n")
    for s in paced:
        sc = SCENARIOS[s]
        lines.extend([f"### paced: {sc.about} ({sc.rate * sc.seconds:,.0f} records; "
                      "latencies: medians of the repeats' percentiles)",
                      "| client | records/s reached | CPU s / M records | user s / M "
                      "| system s / M | broker CPU s / M | p50 ms | p99 ms | p99.9 ms | max ms |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"])
        for c in clients:
            d = summary[s][c]
            if d["not_run"]:
                continue
            lines.append(f"| {c} | {_fmt(d['records_per_s'], '{:,.0f}', False)} | "
                         f"{_fmt(d['cpu_s_per_m'], '{:.2f}')} | "
                         f"{_fmt(d.get('cpu_user_s_per_m'), '{:.2f}', False)} | "
                         f"{_fmt(d.get('cpu_system_s_per_m'), '{:.2f}', False)} | "
                         f"{_fmt(d['broker_cpu_s_per_m'], '{:.2f}', False)} | "
                         + " | ".join(_fmt(d["latency_ms"][q], "{:.2f}", False)
                                      for q in ("p50", "p99", "p999", "max")) + " |")
        line = above_pacer(summary[s], clients)
        lines.extend(["", line] if line else [])
        found = thread_lines(summary[s], clients)
        if found:
            lines.extend(["", f"CPU by thread, s / M records (medians; {THREAD_NOTE}):"]
                         + found)
        lines.append("")
    invalid = [f"- {s}/{c} {msg}" for s in summary for c in clients
               for msg in summary[s][c]["invalid_runs"]]
    if invalid:
        lines.extend(["### invalid runs (excluded from every figure)"] + invalid + [""])
    notes = sorted({f"- {s}/{c}: {n}" for s in summary for c in clients
                    for n in summary[s][c]["notes"]})
    not_run: Dict[str, List[str]] = {}
    for s in summary:
        for c in clients:
            if summary[s][c]["not_run"]:
                not_run.setdefault(f"{c}: {summary[s][c]['not_run']}", []).append(s)
    notes += [f"- not run, {why}: {', '.join(ss)}" for why, ss in sorted(not_run.items())]
    if any(summary[s][PACER]["cpu_s_per_m"] for s in paced if PACER in summary[s]):
        notes.append(f"- {PACER_NOTE}")
    if meta.get("avro_value_bytes"):
        notes.append(f"- avro: mean encoded value {meta['avro_value_bytes']:.1f} B "
                     f"(5 B header + Avro binary); schema registry {meta.get('registry')}")
    lines.extend(["### notes"] + notes + [f"- {u}" for u in UNMATCHED])
    return "\n".join(lines)


def charts(summary: Dict[str, Any], clients: List[str], scenarios: List[str],
           stem: pathlib.Path) -> List[pathlib.Path]:
    """Three PNGs next to the JSON: rate as a fraction of the ceiling, CPU per million
    records, latency CDFs of the paced runs. Returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.harness import SCENARIOS
    tput = [s for s in scenarios if not SCENARIOS[s].paced]
    paced = [s for s in scenarios if SCENARIOS[s].paced]
    written = []
    colors = {c: f"C{i}" for i, c in enumerate(clients)}

    def bars(key: str, rows: List[str], cols: List[str], title: str, xlabel: str,
             path: pathlib.Path, line: Optional[float] = None) -> None:
        rows = [s for s in rows if any(summary[s][c][key] for c in cols)]
        cols = [c for c in cols if any(summary[s][c][key] for s in rows)]
        if not rows:
            return
        fig, ax = plt.subplots(figsize=(10, 0.5 + 0.42 * len(rows) * max(1, len(cols)) / 2.2))
        height = 0.8 / max(1, len(cols))
        for i, c in enumerate(cols):
            med, lo, hi, ys = [], [], [], []
            for k, s in enumerate(rows):
                st = summary[s][c][key]
                if not st:
                    continue
                ys.append(k + i * height)
                med.append(st["median"])
                lo.append(st["median"] - st["min"])
                hi.append(st["max"] - st["median"])
            if ys:
                ax.barh(ys, med, height, xerr=[lo, hi], label=c, color=colors[c], capsize=2)
        ax.set_yticks([k + height * (len(cols) - 1) / 2 for k in range(len(rows))], rows)
        ax.invert_yaxis()
        if line is not None:
            ax.axvline(line, color="black", linewidth=0.8, linestyle="--")
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)

    if tput and "ceiling" in clients:
        bars("ceiling_fraction", tput, [c for c in clients if c != "ceiling"],
             "records/s as a fraction of the broker's ceiling (same repeat; median, min–max)",
             "client ÷ ceiling", stem.with_name(stem.name + "-ceiling.png"), line=1.0)
    cpu_rows = tput + paced
    if cpu_rows:
        bars("cpu_s_per_m", cpu_rows, [c for c in clients if c != "ceiling"] or clients,
             "client CPU seconds per million records (median, min–max)", "CPU s / M records",
             stem.with_name(stem.name + "-cpu.png"))
    if paced:
        fig, axes = plt.subplots(1, len(paced), figsize=(6 * len(paced), 4.5), squeeze=False)
        for ax, s in zip(axes[0], paced):
            for c in clients:
                cdf = summary[s][c]["cdf"] if c != PACER else None   # ~0 ms: off the axis
                if cdf:
                    ax.plot([p[1] for p in cdf], [p[0] for p in cdf], label=c, color=colors[c])
            ax.set_xscale("log")
            ax.set_xlabel("send → ack latency, ms (log)")
            ax.set_ylabel("fraction of records")
            ax.set_title(f"latency CDF at {SCENARIOS[s].rate:,} records/s (median-p99 run)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = stem.with_name(stem.name + "-latency.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: Optional[List[str]] = None) -> int:
    """``python -m bench.report <result.json>``: print the tables of a saved run again and
    rewrite its charts (e.g. after a change to this module)."""
    import argparse
    import json

    from bench import harness
    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("result", help="a bench/results/<stamp>.json")
    p.add_argument("--no-charts", action="store_true")
    args = p.parse_args(argv)
    path = pathlib.Path(args.result)
    data = json.loads(path.read_text())
    for name, fields in data["scenarios"].items():   # as run (quick mode shortens some)
        fields = {k: tuple(tuple(x) for x in v) if k == "not_run" else v
                  for k, v in fields.items()}
        harness.SCENARIOS[name] = harness.Scenario(**fields)
    runs = [harness.Run(**r) for r in data["runs"]]
    clients = list(dict.fromkeys(c for c in harness.CLIENTS
                                 if any(r.client == c for r in runs)))
    scenarios = list(data["scenarios"])
    skipped = {s: {c: d["not_run"] for c, d in per.items() if d["not_run"]}
               for s, per in data["summary"].items()}
    summary = summarize(runs, clients, scenarios, skipped)
    print(markdown(summary, clients, data["meta"], scenarios))
    if not args.no_charts:
        charts(summary, clients, scenarios, path.with_suffix(""))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
