"""kprod's own code never imports confluent-kafka (only tests use it, as the independent
client): checked on the source, so a lazy import inside a function counts too."""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent / "kprod"


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_kprod_does_not_import_confluent_kafka() -> None:
    sources = sorted(ROOT.rglob("*.py"))
    assert len(sources) > 50
    offenders = [f"{path.relative_to(ROOT.parent)}: {name}" for path in sources
                 for name in _imports(path) if name.split(".")[0] == "confluent_kafka"]
    assert offenders == []
