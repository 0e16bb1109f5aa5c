"""Java runner: Kafka's own ``org.apache.kafka.tools.ProducerPerformance``.

The JVM runs as this wrapper's child; we parse its final line and report the JVM's
CPU from ``wait4`` (whole process: JVM startup and JIT included, unlike the Python
runners which time only their produce loop). Values come from the same payload
file (``--payload-file``, picked at random per record); ProducerPerformance has no
key option, so keyed scenarios run unkeyed here. Over TLS it gets
``security.protocol=SSL`` and the PEM CA as ``ssl.truststore.type=PEM`` truststore.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

from bench.clients._common import Tally, emit, load_spec
from kprod.testing import java_tool_command

FINAL = re.compile(
    r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
    r"([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th")


def main() -> None:
    spec = load_spec()
    props = {"bootstrap.servers": spec["bootstrap"], "acks": spec["acks"],
             "compression.type": spec["compression"],
             "enable.idempotence": str(spec["idempotence"]).lower(),
             "batch.size": spec["batch_size"], "linger.ms": spec["linger_ms"]}
    if spec.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        props.update({"security.protocol": spec["security_protocol"],
                      "ssl.truststore.type": "PEM", "ssl.truststore.location": spec["ssl_ca"]})
    cmd = java_tool_command(
        "org.apache.kafka.tools.ProducerPerformance", "--topic", spec["topic"],
        "--num-records", str(spec["num_records"]), "--payload-file", spec["payload_file"],
        "--throughput", str(spec["rate"] or -1),
        "--producer-props", *(f"{k}={v}" for k, v in props.items()))
    with tempfile.TemporaryFile("w+") as err_file:   # a file: a full stderr pipe would block
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True)
        out = proc.stdout.read()
        _, status, ru = os.wait4(proc.pid, 0)   # the JVM's own rusage, before Popen reaps it
        proc.returncode = os.waitstatus_to_exitcode(status)
        err_file.seek(0)
        err = err_file.read()
    match = None
    for line in out.splitlines():
        match = FINAL.search(line) or match
    if proc.returncode != 0 or match is None:
        sys.stderr.write(err[-3000:] + out[-2000:])
        raise SystemExit(f"ProducerPerformance failed (exit {proc.returncode})")
    tally = Tally()
    tally.acked = int(match.group(1))
    tally.errors = err.count("Exception")   # it prints a stack trace per failed record
    rate = float(match.group(2))
    latency = None
    if spec["latency"]:   # its percentiles are whole milliseconds
        latency = {"p50": float(match.group(6)), "p99": float(match.group(8)),
                   "max": float(match.group(5)), "count": tally.acked}
    notes = ["no keys (ProducerPerformance has no key option)"] if spec["key_size"] else []
    # the JVM's ru_maxrss: at least this small wrapper's at fork, so it is the JVM's peak
    emit(spec, tally, tally.acked / rate if rate else 0.0, ru.ru_utime + ru.ru_stime,
         latency, notes, rss_mb=ru.ru_maxrss / 1024.0)


if __name__ == "__main__":
    main()
