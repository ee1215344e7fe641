# Every target bootstraps .venv (python3 -m venv + pip install -e '.[dev]') when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
JOBS ?= 2

.PHONY: test test-slow figures proofs appendix bench bench-peers clean venv

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

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
