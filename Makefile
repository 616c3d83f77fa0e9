# spikerain: two environments, because lava-nc 0.10.0 imports only on Python 3.10 and torch here is a
# CPU wheel for Python 3.11. Every target builds what it needs; re-running is cheap (stamp files).

PYTHON ?= python3.11
PYENV_LAVA := $(HOME)/.pyenv/versions/3.10.13/bin/python3.10
LAVA_PYTHON ?= $(shell if [ -x $(PYENV_LAVA) ]; then echo $(PYENV_LAVA); else echo python3.10; fi)

VENV := .venv
LAVA_VENV := .venv-lava
PY := $(VENV)/bin/python
LAVA_PY := $(LAVA_VENV)/bin/python
# The slowest tests are listed at the end of every run, so a suite creeping past its 15-minute budget shows where.
PYTEST_ARGS ?= --durations=15

.PHONY: all demo test bench lint format clean doctor envs docs .chromium

all: envs

envs: $(VENV)/.stamp $(LAVA_VENV)/.stamp

# torch is pinned: an unpinned torch pulls a multi-GB CUDA build. The SNN libraries below declare torchvision,
# torchaudio or samna, which would replace that torch: they go in --no-deps; the `interop` extra has what they
# really import (sinabs declares nir<=1.0.4; it runs with nir 1.0.8, see docs/bring-your-own.md).
INTEROP_NODEPS := spikingjelly==2.0.0 norse==1.1.0 sinabs==3.1.3
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q --no-deps $(INTEROP_NODEPS)
	$(PY) -m pip install -q -e '.[dev,scaleout,interop]'
	$(PY) -m pip install -q --no-deps thop==0.1.1.post2209072238 neurobench==2.3.0 snntorch==1.0.0 tqdm
	touch $@

# The deployment environment: lava-nc, numpy<2, h5py, and spikerain without its (torch) dependencies.
$(LAVA_VENV)/.stamp: pyproject.toml
	$(LAVA_PYTHON) -m venv $(LAVA_VENV)
	$(LAVA_PY) -m pip install -q --upgrade pip
	$(LAVA_PY) -m pip install -q lava-nc==0.10.0 'numpy<2' h5py
	$(LAVA_PY) -m pip install -q --no-deps -e .
	touch $@

.venv: $(VENV)/.stamp
.venv-lava: $(LAVA_VENV)/.stamp

demo: envs
	$(VENV)/bin/spikerain demo

# Debian's chromium renders the demo report in a test; installing it needs root (CI runs as root). Without it
# that one test is skipped, unless SPIKERAIN_REQUIRE_BROWSER is set (CI sets it).
.chromium:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 \
	  || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1) \
	  || echo "warning: could not install chromium (needs root); the report rendering test will be skipped"

# lava-dl 0.6.0's netx test suite and recorded values (tests/converter/test_netx_lava_dl.py): fetched with the
# Lava environment's pip (the wheel needs no torch to unpack), cached under .cache/, never committed.
LAVA_DL := .cache/lava-dl-0.6.0
$(LAVA_DL)/.stamp: | $(LAVA_VENV)/.stamp
	mkdir -p $(LAVA_DL)
	$(LAVA_PY) -m pip download -q --no-deps lava-dl==0.6.0 -d $(LAVA_DL)
	$(LAVA_PY) -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); \
	  z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith('tests/lava/lib/dl/netx/')])" \
	  $(LAVA_DL)/lava_dl-0.6.0-py3-none-any.whl $(LAVA_DL)
	rm $(LAVA_DL)/lava_dl-0.6.0-py3-none-any.whl
	touch $@

test: envs .chromium $(LAVA_DL)/.stamp
	$(PY) -m pytest -q $(PYTEST_ARGS)

docs: $(VENV)/.stamp
	$(PY) -m spikerain.pipeline.support > docs/supported-ops.md

bench: envs
	$(PY) -m bench.run

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .

format: $(VENV)/.stamp
	$(VENV)/bin/ruff format .

doctor: envs
	$(VENV)/bin/spikerain doctor

clean:
	rm -rf $(VENV) $(LAVA_VENV) .cache build *.egg-info .pytest_cache .ruff_cache
