# kprod: developer entry points. `make test` and `make bench` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.kprod-installed
# A path entry (.pth) instead of setuptools' import hook, so mypy and IDEs find kprod.
EDITABLE := --config-settings editable_mode=compat

.PHONY: venv build test test-fast typecheck lint wheel-test bench bench-quick bench-micro \
	debug-build fuzz fuzz-build fuzz-build-asan soak faults-long clean

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" wheel "Cython>=3.0.10"
	$(PY) -m pip install -q --no-build-isolation $(EDITABLE) -e '.[test,bench,avro,fuzz]'
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

# ruff, mypy (pyproject [tool.mypy]: strict on the public API) and stubtest (every
# kprod/_native/*.pyi against the built extension, Cython's own names in
# .ci/stubtest-allowlist.txt). PEP 800 disjoint bases are not checked: marking them needs
# a typing_extensions newer than many users' type checkers know. A venv made before the
# compat editable install has setuptools' import hook, which mypy cannot follow:
# reinstall it once.
NATIVE_STUBS := $(patsubst kprod/_native/%.pyi,kprod._native.%,$(wildcard kprod/_native/*.pyi))

lint: build
	$(PY) -m ruff check kprod tests bench $(RUFF_ARGS)
	@if ls $(VENV)/lib/python*/site-packages/__editable___kprod_*_finder.py >/dev/null 2>&1; \
	then $(PY) -m pip install -q --no-build-isolation $(EDITABLE) -e '.[test,bench,avro,fuzz]'; fi
	$(PY) -m mypy kprod $(MYPY_ARGS)
	$(PY) -m mypy.stubtest --allowlist .ci/stubtest-allowlist.txt --ignore-disjoint-bases \
		$(NATIVE_STUBS)

typecheck: lint

# python -m build (sdist, and the wheel from it), the wheel installed into a clean venv
# outside the repository (binary packages only: no Cython, no compiler), smoke-tested
# there against a broker from the installed kprod.testing (.ci/wheel_smoke.sh).
wheel-test: venv
	PYTHON=$(abspath $(PY)) .ci/wheel_smoke.sh

# End-to-end: kprod vs confluent-kafka, Java (our own runner, bench/java, compiled with
# javac on first use), kafka-python, aiokafka and the broker's own ceiling (raw Produce
# requests) on a local full-JIT broker the harness starts itself; matched settings, one
# clock, >= 1M records per run, 3 interleaved repeats. Writes bench/results/<stamp>.json
# and three PNG charts (about 15 min on a quiet 2-core machine). BENCH_ARGS="--scenarios
# all" runs every scenario at both batch sizes; "--scenarios tls/1M,avro/1M" just those.
bench: build
	$(PY) -m bench.harness $(BENCH_ARGS)

# 100B at 16K and 1M, keyed/1M, paced 10k; 1 repeat, 300k records (<= ~2 min quiet).
bench-quick: build
	$(PY) -m bench.harness --quick $(BENCH_ARGS)

# Native hot-path micro-benchmarks, no broker.
bench-micro: build
	$(PY) -m bench.micro $(BENCH_ARGS)

# Coverage-guided fuzzing (atheris; tests/fuzz/run.py): FUZZ_RUNS inputs per target.
# fuzz-build makes the clang-instrumented native modules (KPROD_FUZZ=1 in setup.py,
# -fsanitize=fuzzer-no-link) and a libFuzzer library in build/fuzz/lib, apart from the
# release build. Without clang, `make fuzz` fuzzes the release modules uninstrumented
# (atheris drives them; coverage comes from the Python code only) and says so.
FUZZ_RUNS ?= 1000000
FUZZ_JOBS ?= 2
CLANG ?= $(shell command -v clang 2>/dev/null || ls /usr/bin/clang-[0-9]* 2>/dev/null | grep -v -e '++' -e cpp | sort -V | tail -1)
FUZZ_LIB := build/fuzz/lib

fuzz-build: venv
	@test -n "$(CLANG)" || { echo "fuzz-build: no clang found (apt-get install clang)"; exit 1; }
	CC=$(CLANG) KPROD_FUZZ=1 $(PY) setup.py -q build_ext --build-lib $(FUZZ_LIB) \
		--build-temp build/fuzz/temp -j 2
	$(CLANG) -shared -o $(FUZZ_LIB)/libfuzzer.so -Wl,--whole-archive \
		"$$($(CLANG) -print-runtime-dir)/libclang_rt.fuzzer_no_main-$$(uname -m).a" \
		-Wl,--no-whole-archive -lstdc++ -lpthread -lm

# The same with AddressSanitizer (build/fuzz-asan; `python -m tests.fuzz.run --asan`):
# out-of-bounds reads in the native decoders become findings even when they do not crash.
fuzz-build-asan: venv
	@test -n "$(CLANG)" || { echo "fuzz-build-asan: no clang found (apt-get install clang)"; exit 1; }
	CC=$(CLANG) KPROD_FUZZ=address $(PY) setup.py -q build_ext \
		--build-lib build/fuzz-asan/lib --build-temp build/fuzz-asan/temp -j 2
	$(CLANG) -shared -o build/fuzz-asan/lib/libfuzzer.so -Wl,--whole-archive \
		"$$($(CLANG) -print-runtime-dir)/libclang_rt.fuzzer_no_main-$$(uname -m).a" \
		-Wl,--no-whole-archive -lstdc++ -lpthread -lm
	echo "$(CURDIR)/build/fuzz-asan/lib/libfuzzer.so:$$($(CLANG) -print-runtime-dir)/libclang_rt.asan-$$(uname -m).so" \
		> build/fuzz-asan/lib/preload

fuzz: build
	@if [ -n "$(CLANG)" ]; then $(MAKE) --no-print-directory fuzz-build; \
	else echo "fuzz: no clang: the native modules are fuzzed uninstrumented"; fi
	$(PY) -m tests.fuzz.run --runs $(FUZZ_RUNS) --jobs $(FUZZ_JOBS) $(FUZZ_ARGS)

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
