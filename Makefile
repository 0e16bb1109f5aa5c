# kprod: developer entry points. `make test` and `make bench` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kprod-installed
# A path entry (.pth) instead of setuptools' import hook, so mypy and IDEs find kprod.
EDITABLE := --config-settings editable_mode=compat

.PHONY: venv build test test-fast typecheck lint bench bench-quick bench-micro debug-build clean \
	soak faults-long

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=68" wheel "Cython>=3.0.10"
	$(PY) -m pip install -q --no-build-isolation $(EDITABLE) -e '.[test,bench,avro]'
	touch $(STAMP)

# In-place build of the native modules (fast when nothing changed).
build: venv
	$(PY) setup.py -q build_ext --inplace -j 2

debug-build: venv
	KPROD_DEBUG=1 $(PY) setup.py -q build_ext --inplace --force -j 2

test: build
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: build
	$(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

# mypy over kprod (not part of `make test`). A venv made before the compat editable
# install has setuptools' import hook, which mypy cannot follow: reinstall it once.
typecheck: build
	@if ls $(VENV)/lib/python*/site-packages/__editable___kprod_*_finder.py >/dev/null 2>&1; \
	then $(PY) -m pip install -q --no-build-isolation $(EDITABLE) -e '.[test,bench,avro]'; fi
	$(PY) -m mypy kprod $(MYPY_ARGS)

lint: venv
	$(PY) -m ruff check kprod tests $(RUFF_ARGS)

# End-to-end: kprod vs confluent-kafka, Java (our own runner, bench/java, compiled with
# javac on first use), kafka-python, aiokafka and the broker's own ceiling (raw Produce
# requests) on a local full-JIT broker the harness starts itself; matched settings, one
# clock, >= 1M records per run, 3 interleaved repeats. Writes bench/results/<stamp>.json
# and three PNG charts (<= 15 min on a quiet 2-core machine). BENCH_ARGS="--scenarios
# all" runs every scenario at both batch sizes; "--scenarios tls/1M,avro/1M" just those.
bench: build
	$(PY) -m bench.harness $(BENCH_ARGS)

# 100B at 16K and 1M, keyed/1M, paced 10k; 1 repeat, 300k records (<= ~2 min quiet).
bench-quick: build
	$(PY) -m bench.harness --quick $(BENCH_ARGS)

# Native hot-path micro-benchmarks, no broker.
bench-micro: build
	$(PY) -m bench.micro $(BENCH_ARGS)

# Issue 16 long forms (the suite runs their short forms). soak: 30 minutes
# (KPROD_SOAK_SECONDS) at half of the measured maximum rate through Toxiproxy, a random
# network fault or broker kill every minute; RSS/threads/fds/GC sampled every second;
# report and PNG in build/soak/. faults-long: 1M keyed idempotent records through a
# partition and 3 leader kills, 200 transactions with the coordinator partitioned.
soak: build
	$(PY) -m pytest -q -s -m soak tests/faults/test_soak.py $(PYTEST_ARGS)

faults-long: build
	$(PY) -m pytest -q -s -m soak tests/faults/test_network_faults.py $(PYTEST_ARGS)

clean:
	rm -rf build *.egg-info kprod/_native/*.so kprod/_native/*.c
