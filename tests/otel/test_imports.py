"""opentelemetry is an optional extra: only kprod.otel imports it, and ``import kprod``
(producer, asyncio, bulk, admin) loads none of it."""
from __future__ import annotations

import pathlib
import subprocess
import sys

from tests.test_dependencies import _imports

ROOT = pathlib.Path(__file__).resolve().parents[2] / "kprod"


def test_only_kprod_otel_imports_opentelemetry() -> None:
    importers = sorted(str(path.relative_to(ROOT.parent)) for path in ROOT.rglob("*.py")
                       if any(name.split(".")[0] == "opentelemetry" for name in _imports(path)))
    assert importers == ["kprod/otel.py"]


def test_import_kprod_loads_no_opentelemetry() -> None:
    program = ("import sys, kprod, kprod.producer, kprod.aio, kprod.bulk, kprod.admin\n"
               "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
               "import kprod.otel\n"
               "print('opentelemetry.trace' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True"]
