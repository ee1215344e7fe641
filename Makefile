# Every target bootstraps .venv (python3 -m venv + pip install -e '.[dev,sweep,learn]') when it is
# missing. The sweep extra (dask, distributed) is there so `make test` runs the Dask tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: test test-slow test-export figures proofs appendix bench bench-peers clean venv

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,sweep,learn]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

# The export extra (torch, transformer-lens, safetensors) in its own environment: several GB
# that the core does not need. TORCH pins the CPU build these machines keep on disk (plain
# `torch` pulls a multi-GB CUDA build).
EXPORT_VENV := .venv-export
EXPORT_STAMP := $(EXPORT_VENV)/.installed-stamp
TORCH ?= torch==2.13.0

$(EXPORT_STAMP): setup.cfg pyproject.toml
	test -x $(EXPORT_VENV)/bin/python || $(PYTHON) -m venv $(EXPORT_VENV)
	$(EXPORT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check '$(TORCH)'
	$(EXPORT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,export]'
	touch $(EXPORT_STAMP)

test-export: $(EXPORT_STAMP)
	THEORY_KIT_REQUIRE_EXPORT=1 $(EXPORT_VENV)/bin/python -m pytest tests/export -q

test-slow: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -m slow -q

# figures/build.py and paper_appendix/build.py call theory_kit.paper (figures, latex): the same
# build system a paper project made by `theory-kit init` runs with its own `make figures` /
# `make appendix`.
figures: $(STAMP)
	$(PY) figures/build.py --jobs $(JOBS)

proofs: $(STAMP)
	$(PY) proofs_numeric/run_all.py

appendix: $(STAMP) proofs figures
	$(PY) paper_appendix/build.py

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

bench-peers: $(STAMP)
	$(PY) benchmarks/setup_tracr_venv.py
	$(PY) benchmarks/compare_tracr.py

clean:
	rm -rf figures/out figures/.cache paper_appendix/generated paper_appendix/build .pytest_cache
