"""mypy sees the installed kprod from outside the repository (the dev install is a path
entry, not an import hook), with its types: a user's program type-checks, and a wrong
type in it is reported."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("mypy", reason="mypy is in the test extra (pip install '.[test]')")

PROGRAM = '''
from kprod import Producer, ProducerRecord, RecordMetadata
from kprod.errors import GroupAuthorizationFailedError, KafkaError, for_code

def send(producer: Producer) -> RecordMetadata:
    return producer.send(ProducerRecord("t", b"k", b"v")).get(timeout=10)

code: int = for_code(30).code
assert issubclass(GroupAuthorizationFailedError, KafkaError)
'''


def _mypy(tmp_path: pathlib.Path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "user_program.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "user_program.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)


def test_mypy_follows_the_dev_install(tmp_path: pathlib.Path) -> None:
    done = _mypy(tmp_path, PROGRAM)
    assert "import-not-found" not in done.stdout, (
        "mypy cannot see kprod: reinstall with `make typecheck` (editable_mode=compat)\n"
        + done.stdout)
    assert done.returncode == 0, done.stdout
    wrong = _mypy(tmp_path, PROGRAM + "\nname: str = for_code(30).code\n")
    assert wrong.returncode == 1 and 'expression has type "int", variable has type "str"' \
        in wrong.stdout, wrong.stdout
