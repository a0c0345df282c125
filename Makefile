# aelab — the two commands a user needs are `make demo` and `make test`; both do all the set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build of PyTorch, pinned here (pyproject keeps a range): a looser requirement pulls a CUDA build of several GB.
TORCH  := torch==2.13.0
# `make install EXTRAS=test,mkl` adds oneMKL as a second BLAS candidate (x86-64; src/aelab/native/blas.py).
# On x86-64 the install adds it by default: on Intel Xeons it is the faster BLAS at the study's shapes (deep epoch
# 1.27 s against OpenBLAS' 1.50 s, BENCHMARKS.md), and where it is not (AMD EPYC) the measurement picks OpenBLAS.
EXTRAS ?= $(if $(filter x86_64,$(shell uname -m)),test$(comma)mkl,test)
comma := ,

# Real data for tests and the demo: the team's shared copy when it is there (machines have no internet).
SHARED_DATA := $(abspath ../shared/data)
ifeq ($(origin AELAB_DATA_DIR), undefined)
  ifneq ($(wildcard $(SHARED_DATA)/fashion-mnist),)
    export AELAB_DATA_DIR := $(SHARED_DATA)
  endif
endif

.PHONY: install test test-fast lint demo data browser bench bench-peers clean

install: $(STAMP)

# The compiled kernels are built by the install (setup.py), so a change to them reinstalls.
NATIVE := setup.py $(wildcard src/aelab/native/kernels.c src/aelab/native/aelab_kernels.h src/aelab/native/ffibuild.py)

$(STAMP): pyproject.toml Makefile $(NATIVE)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	touch $(STAMP)

test: install browser lint
	$(BIN)/python -m pytest -q

# ruff (pinned in the test extra, configured in pyproject.toml): no finding, and every file as `ruff format` writes it.
lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

# The edit loop (under a minute): every test on synthetic data; the real-data and slow ones are left to `make test`.
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not real_data"

# Headless Chromium renders report.html in tests/test_report_browser.py: Debian's package, when apt-get is usable.
browser:
	@[ -x /usr/bin/chromium ] || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium fonts-liberation >/dev/null; } || true

# Fashion-MNIST must be somewhere aelab looks; if not, Debian's package provides it (when apt-get is usable),
# else aelab downloads it from the public mirrors into its cache.
data: install
	@$(BIN)/aelab data verify fashion-mnist --quiet >/dev/null 2>&1 \
	  || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && { apt-get install -y -q dataset-fashion-mnist \
	       || { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; } >/dev/null 2>&1; true; }
	$(BIN)/aelab data fetch fashion-mnist

# The whole study (gradient checks, four models, the sweep) on Fashion-MNIST, and MNIST when it is found.
demo: data
	$(BIN)/aelab reproduce --out runs/study --datasets fashion-mnist,mnist
	@echo "Report: runs/study/report.html (and report.md); each step's run folder is under runs/study/"

# Timing tables (run on an idle machine); with .venv-peers present they include the Keras study.
bench: install
	$(BIN)/python benchmarks/run.py

# The Keras and JAX peers in their own environment: the main install never needs TensorFlow or JAX.
# One pip call, so the resolver fits both peers' NumPy requirements together; jax's CPU build is plain `jax` + `jaxlib`.
PEERS := tensorflow-cpu==2.21.0 jax==0.10.2 jaxlib==0.10.2 optax==0.2.8
bench-peers: .venv-peers/.installed
.venv-peers/.installed: Makefile
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/pip install --quiet --disable-pip-version-check $(PEERS)
	touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache .hypothesis
