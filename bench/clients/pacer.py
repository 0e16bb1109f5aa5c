"""The pacer alone: the kprod runner's paced loop with no Kafka client (a CPU baseline).

It runs bench/clients/kprod.py's timed loop itself (``_common.callback_send_loop``): per
record ``Pacer.wait(i)``, ``lat.sent[i] = perf_counter()``, a ``functools.partial``
callback, and a call of a ``send`` with the same arguments; that ``send`` is a stand-in which
calls the callback at once as if the record were acknowledged (so latencies are ~0).
Records, keys and headers are the same pools, the clock is the same :class:`Clock`.
What its CPU shows is what pacing and latency bookkeeping cost by themselves at the
scenario's rate, the part every paced Python runner pays besides its client's own work.

It connects to nothing and writes nothing: the harness expects 0 records on the broker
for it (bench.harness.WRITES_NOTHING). Paced scenarios only (``rate`` > 0).
"""
from __future__ import annotations

from bench.clients._common import (
    Clock, DeliveryCallbacks, Latencies, Tally, callback_send_loop, emit, load_spec, records,
)


def main() -> None:
    spec = load_spec()
    if not spec["rate"]:
        raise SystemExit("the pacer baseline runs in paced scenarios only")
    keys, values, headers = records(spec)
    tally, warm = Tally(), Tally()
    lat = Latencies(spec["num_records"]) if spec["latency"] else None
    callbacks = DeliveryCallbacks(tally, lat)

    def send(topic, value, key=None, headers=None, callback=None):
        callback(None, None)   # "acknowledged" at once: no client, no broker

    # the warm-up record, as the kprod runner sends it (nothing to flush)
    send(spec["topic"], values[0], keys[0], headers=headers[0], callback=callbacks.warm(warm))
    clock = Clock()
    clock.start()
    callback_send_loop(spec, send, keys, values, headers, lat, callbacks)   # kprod's loop
    elapsed, cpu = clock.stop()
    emit(spec, tally, elapsed, cpu, lat, [], warmup_acked=warm.acked, clock=clock)


if __name__ == "__main__":
    main()
