"""Java runner: our own bench/java/KprodBench.java on the plain Java producer.

The program is compiled with javac against the cached kafka-clients jar the first time
(the class file is cached under kprod's cache dir, keyed by the source's and the jar's
hash) and run in a JVM of its own. It builds the same records, keys and headers as the
Python runners and uses the same clock; before the clock it sends ``warmup_records - 1``
records after the one warm-up record, in the same JVM, so the JIT is warm. Its result
line is ``KPROD-BENCH-RESULT <json>`` (parsed by :func:`parse_result`); the CPU it
reports is the JVM's process CPU time read at the clock's two moments.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
from typing import Any, Dict, List

from bench.clients.settings import java_props

SOURCE = pathlib.Path(__file__).resolve().parent.parent / "java" / "KprodBench.java"
MAIN = "KprodBench"
PREFIX = "KPROD-BENCH-RESULT "
CLOCK_MARK = "KPROD-BENCH-CLOCK "   # bench.clients._common.CLOCK_START / CLOCK_STOP
JVM_HEAP = ["-Xms256m", "-Xmx512m"]


class JavaRunnerError(RuntimeError):
    """The Java runner could not be compiled, or printed no result line."""


def compiled_classes() -> pathlib.Path:
    """Directory holding KprodBench.class, compiling it once per (source, jar)."""
    from kprod.testing import kafka_clients_jar
    from kprod.testing.artifacts import cache_dir
    jar = kafka_clients_jar()
    digest = hashlib.sha256(SOURCE.read_bytes() + str(jar).encode()).hexdigest()[:16]
    out = cache_dir() / "bench-java" / digest
    if (out / f"{MAIN}.class").is_file():
        return out
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="javac-", dir=out.parent if out.parent.exists()
                                        else None))
    proc = subprocess.run(["javac", "-nowarn", "-cp", str(jar), "-d", str(tmp), str(SOURCE)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise JavaRunnerError(f"javac failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(tmp, out)   # atomic publish; a concurrent compile may have won
    except OSError:
        pass
    return out


def command(bench_file: str, producer_file: str) -> List[str]:
    from kprod.testing import kafka_libs_dir
    from kprod.testing.artifacts import java_executable, log_config_args
    classpath = f"{compiled_classes()}{os.pathsep}{kafka_libs_dir() / '*'}"
    return [java_executable(), *JVM_HEAP, *log_config_args(None, "tools"), "-cp", classpath,
            MAIN, bench_file, producer_file]


def bench_properties(spec: Dict[str, Any]) -> Dict[str, str]:
    return {"topic": spec["topic"], "num.records": str(spec["num_records"]),
            "warmup.records": str(max(0, spec.get("warmup_records", 1) - 1)),
            "key.size": str(spec["key_size"]), "headers": str(spec.get("headers", 0)),
            "payload.file": spec["payload_file"], "rate": str(spec["rate"]),
            "latency": str(bool(spec["latency"])).lower()}


def write_properties(path: str, props: Dict[str, str]) -> None:
    def esc(text: str) -> str:   # java.util.Properties escapes
        return text.replace("\\", "\\\\").replace("\n", "\\n").replace("=", "\\=") \
            .replace(":", "\\:")
    with open(path, "w", encoding="latin-1") as f:
        for k, v in props.items():
            f.write(f"{esc(k)}={esc(v)}\n")


def parse_result(stdout: str) -> Dict[str, Any]:
    """The JSON of the last ``KPROD-BENCH-RESULT`` line of the program's output."""
    found = [line[len(PREFIX):] for line in stdout.splitlines() if line.startswith(PREFIX)]
    if not found:
        raise JavaRunnerError("no KPROD-BENCH-RESULT line in the Java runner's output")
    result = json.loads(found[-1])
    for key in ("sent", "acked", "errors", "elapsed_s", "cpu_s", "warmup_acked"):
        if key not in result:
            raise JavaRunnerError(f"the Java runner's result has no {key!r}")
    return result


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("avro"):
        raise SystemExit("the Java runner sends bytes only (no Avro serializer on the classpath)")
    with tempfile.TemporaryDirectory(prefix="kprod-bench-java-") as tmp:
        bench_file, producer_file = os.path.join(tmp, "bench.properties"), \
            os.path.join(tmp, "producer.properties")
        write_properties(bench_file, bench_properties(spec))
        write_properties(producer_file, java_props(spec))
        with tempfile.TemporaryFile("w+") as err_file:   # a file: a full pipe would block
            proc = subprocess.Popen(command(bench_file, producer_file), stdout=subprocess.PIPE,
                                    stderr=err_file, text=True)
            out = []
            for line in proc.stdout:   # the clock's marks go on to the harness at once
                if line.startswith(CLOCK_MARK):
                    sys.stdout.write(line)
                    sys.stdout.flush()
                out.append(line)
            proc.wait()
            err_file.seek(0)
            err = err_file.read()
    stdout = "".join(out)
    try:
        result = parse_result(stdout)
    except (JavaRunnerError, ValueError) as exc:
        sys.stderr.write(err[-3000:] + stdout[-2000:])
        raise SystemExit(f"Java runner failed (exit {proc.returncode}): {exc}") from exc
    if proc.returncode != 0:
        sys.stderr.write(err[-3000:])
        raise SystemExit(f"Java runner exited {proc.returncode}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
