"""The pacer alone: the kprod runner's paced loop with no Kafka client (a CPU baseline).

Per record it does what bench/clients/kprod.py's paced loop does around ``send()``:
``Pacer.wait(i)``, ``lat.sent[i] = perf_counter()``, a ``functools.partial`` callback,
and a call of a ``send`` with the same arguments; that ``send`` is a stand-in which
calls the callback at once as if the record were acknowledged (so latencies are ~0).
Records, keys and headers are the same pools, the clock is the same :class:`Clock`.
What its CPU shows is what pacing and latency bookkeeping cost by themselves at the
scenario's rate, the part every paced Python runner pays besides its client's own work.

It connects to nothing and writes nothing: the harness expects 0 records on the broker
for it (bench.harness.WRITES_NOTHING). Paced scenarios only (``rate`` > 0).
"""
from __future__ import annotations

import functools
import time

from bench.clients._common import Clock, Latencies, Pacer, Tally, emit, load_spec, records


def main() -> None:
    spec = load_spec()
    if not spec["rate"]:
        raise SystemExit("the pacer baseline runs in paced scenarios only")
    keys, values, headers = records(spec)
    n, pool = spec["num_records"], len(values)
    tally, warm = Tally(), Tally()
    lat = Latencies(n) if spec["latency"] else None

    def count(t, metadata, exc):
        if exc is None:
            t.acked += 1
        else:
            t.error(exc)

    on_ack = functools.partial(count, tally)

    def on_ack_timed(i, metadata, exc):
        lat.acked[i] = time.perf_counter()
        on_ack(metadata, exc)

    def send(topic, value, key=None, headers=None, callback=None):
        callback(None, None)   # "acknowledged" at once: no client, no broker

    topic = spec["topic"]
    # the warm-up record, as the kprod runner sends it (nothing to flush)
    send(topic, values[0], keys[0], headers=headers[0], callback=functools.partial(count, warm))
    clock = Clock()
    pacer = Pacer(spec["rate"])
    clock.start()
    for i in range(n):
        pacer.wait(i)
        j = i % pool
        if lat is not None:
            lat.sent[i] = time.perf_counter()
            send(topic, values[j], keys[j], headers=headers[j],
                 callback=functools.partial(on_ack_timed, i))
        else:
            send(topic, values[j], keys[j], headers=headers[j], callback=on_ack)
    elapsed, cpu = clock.stop()
    emit(spec, tally, elapsed, cpu, lat, [], warmup_acked=warm.acked, cpu_split=clock.split)


if __name__ == "__main__":
    main()
