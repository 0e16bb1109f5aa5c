#!/usr/bin/env bash
# Build kprod's sdist and wheel (python -m build: the wheel is built from the sdist),
# install the wheel into a clean venv outside the repository with binary packages only
# (no Cython, no compiler at install time), then, from there: import it, check the
# native murmur2 module is the compiled one, start a broker with the installed
# kprod.testing, produce with kprod and count the records with AdminClient.list_offsets,
# and run the README's pytest-plugin example. Jars come from ~/.cache/kprod.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kprod-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

echo "== build (sdist + wheel) in $WORK/dist"
"$PYTHON" -m build --outdir "$WORK/dist" "$ROOT" >"$WORK/build.log" 2>&1 || {
    tail -50 "$WORK/build.log"; exit 1; }
if grep -E "SetuptoolsDeprecationWarning|BuildBackendWarning|is deprecated" "$WORK/build.log"; then
    echo "FAIL: the build printed deprecation warnings (above)"; exit 1
fi
ls "$WORK/dist"
WHEEL=$(ls "$WORK"/dist/kprod-*.whl)
ls "$WORK"/dist/kprod-*.tar.gz >/dev/null

echo "   (${SECONDS}s)"
echo "== install $(basename "$WHEEL") into a clean venv"
BASE=$("$PYTHON" -c 'import sys; print(sys._base_executable)')
"$BASE" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --disable-pip-version-check --only-binary=:all: "$WHEEL" "pytest>=8"

echo "   (${SECONDS}s)"
echo "== smoke test"
mkdir "$WORK/run"
cd "$WORK/run"      # outside the repository: only the installed kprod can be imported
"$VPY" - "$WORK/venv" <<'PY'
import importlib.metadata
import importlib.util
import sys

import kprod
from kprod._native import murmur2 as native_murmur2

venv = sys.argv[1]
assert kprod.__file__.startswith(venv), f"kprod imported from {kprod.__file__}, not {venv}"
assert importlib.metadata.version("kprod") == kprod.__version__
assert importlib.util.find_spec("Cython") is None, "Cython is installed in the clean venv"
assert native_murmur2.__file__.endswith(".so"), native_murmur2.__file__
assert kprod.murmur2(b"21") == -973932308          # Java's Utils.murmur2
meta = importlib.metadata.metadata("kprod")
assert meta["License-Expression"] == "Apache-2.0", meta["License-Expression"]

from kprod import Producer
from kprod.admin import AdminClient
from kprod.testing import KafkaCluster

with KafkaCluster() as cluster:
    with AdminClient(bootstrap_servers=cluster.bootstrap_servers) as admin:
        admin.create_topic("wheel-smoke", partitions=3, replication_factor=1)
        with Producer(bootstrap_servers=cluster.bootstrap_servers) as producer:
            futures = [producer.send("wheel-smoke", b"value-%d" % i, key=b"%d" % i)
                       for i in range(1000)]
            producer.flush(60)
        assert all(f.get(10).offset >= 0 for f in futures)
        offsets = admin.list_offsets("wheel-smoke")
        total = sum(o.offset for o in offsets.values())
        assert total == 1000, offsets
print(f"ok: kprod {kprod.__version__} from {kprod.__file__}; 1000 records, "
      f"{len(offsets)} partitions")
PY

echo "   (${SECONDS}s)"
echo "== the README's pytest-plugin example"
mkdir "$WORK/plugin"
"$VPY" - "$ROOT/README.md" "$WORK/plugin/test_example.py" <<'PY'
import re
import sys

text = open(sys.argv[1]).read()
blocks = re.findall(r"<!--\s*example:\s*pytest\s*-->\s*\n```python\n(.*?)^```", text, re.S | re.M)
assert len(blocks) == 1, f"expected one pytest example in README.md, found {len(blocks)}"
open(sys.argv[2], "w").write(blocks[0])
PY
cd "$WORK/plugin"
"$VPY" -m pytest -q -p no:cacheprovider test_example.py
echo "   (${SECONDS}s)"
echo "wheel smoke test passed in ${SECONDS}s"
