"""Every input the fuzzers found, and every corpus seed, through its target: accepted, or
refused with the target's typed error. No atheris needed.

Crashers live in tests/fuzz/crashers/<target>-<what>; the corpus in
tests/fuzz/corpus/<target>/.
"""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kprod._internals import sasl
from kprod.errors import AuthenticationError

from . import targets as T

HERE = Path(__file__).resolve().parent
CRASHERS = sorted((HERE / "crashers").iterdir())
SEEDS = sorted(p for d in (HERE / "corpus").iterdir() for p in d.iterdir())


def _target_of(crasher: Path) -> str:
    for name in sorted(T.TARGETS, key=len, reverse=True):
        if crasher.name.startswith(name + "-"):
            return name
    raise AssertionError(f"{crasher.name}: no target prefix")


@pytest.mark.parametrize("crasher", CRASHERS, ids=[p.name for p in CRASHERS])
def test_crasher_is_refused_with_a_typed_error(crasher):
    T.run_one(_target_of(crasher), crasher.read_bytes())


@pytest.mark.parametrize("seed", SEEDS, ids=[f"{p.parent.name}/{p.name}" for p in SEEDS])
def test_corpus_seed(seed):
    T.run_one(seed.parent.name, seed.read_bytes())


def test_every_target_has_seeds():
    assert {p.parent.name for p in SEEDS} == set(T.TARGETS)


# --- SCRAM server-first: the iteration count (found by scram_server_first)

def _server_first(iterations: str, salt: str = "QSXCR+Q6sek8bf92") -> bytes:
    return f"r={T.CLIENT_NONCE}srv,s={salt},i={iterations}".encode()


def _scram() -> sasl.Scram:
    m = sasl.Scram(sasl.Credentials("SCRAM-SHA-256", "user", "pencil"), nonce=T.CLIENT_NONCE)
    m.initial()
    return m


@pytest.mark.parametrize("iterations", [
    "2147483648",               # past Java's int: PBKDF2 raised OverflowError
    "4098888888888888888886",   # the fuzzer's input
    "9" * 5000,                 # int() itself refuses strings this long
    "+4096", " 4096", "4_096", "\u0664\u0660\u0669\u0666",   # int() takes these; Kafka not
    "0", "", "4096.0",
])
def test_iteration_count_not_a_positive_int32_is_refused(iterations):
    with pytest.raises(AuthenticationError, match="iteration count"):
        _scram().step(_server_first(iterations))


def test_iteration_count_with_leading_zero_is_read_as_kafka_does():
    reply = _scram().step(_server_first("04096"))      # Integer.parseInt("04096") == 4096
    assert reply.startswith(b"c=biws,r=" + T.CLIENT_NONCE.encode() + b"srv,p=")


def test_salt_and_verifier_must_be_base64():
    with pytest.raises(AuthenticationError, match="malformed server-first"):
        _scram().step(_server_first("4096", salt="QSX!CR+Q6sek8bf92"))
    m = _scram()
    m.step(_server_first("4096"))
    good = base64.b64encode(m._server_signature).decode()
    with pytest.raises(AuthenticationError, match="malformed server-final"):
        m.step(f"v={good[:4]}*{good[4:]}".encode())   # b64decode would drop the '*'
