"""Rewrite the configuration table of README.md from kprod/config.py (the one source).

    .venv/bin/python docs/update_config_table.py

tests/test_config.py checks that the README's table is the generated one.
"""
from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kprod.config import settings_table  # noqa: E402

HEADING = "## Configuration"


def table_span(text: str) -> "tuple[int, int]":
    """Start and end offsets of the table under the Configuration heading."""
    start = text.index("\n| setting |", text.index(HEADING)) + 1
    end = start
    while end < len(text) and text.startswith("|", end):
        end = text.index("\n", end) + 1
    return start, end


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = table_span(text)
    readme.write_text(text[:start] + settings_table() + "\n" + text[end:])


if __name__ == "__main__":
    main()
