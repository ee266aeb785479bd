# make run   - set up, pretrain the default config, evaluate, print the transfer report
# make test  - set up, run the test suite
# make lint  - ruff format --check, ruff check and the documentation check (CI runs it before the tests)
# make bench  - set up, rerun every benchmark from scratch, write BENCHMARKS.md (about eight hours on 2 CPU cores, README "Benchmarks")
# Variables: CONFIG (a YAML in configs/), OVERRIDES (dotted key=value list), BENCH_SCALE (small | full), PYTHON

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.setup-done
CONFIG ?= configs/ae_m64_fmnist.yaml
BENCH_SCALE ?= small
OVERRIDES ?=

.PHONY: setup data run pretrain evaluate test lint bench clean help

help:
	@sed -n '1,6p' Makefile

setup: $(STAMP) data

$(STAMP): pyproject.toml scripts/setup_env.sh scripts/check_imports.py
	PYTHON=$(PYTHON) bash scripts/setup_env.sh $(VENV)
	touch $(STAMP)

data: $(STAMP)
	bash scripts/get_data.sh $(PY)

run: setup
	$(eval RUN_DIR := $(shell $(PY) -c "from pretrain.core.config import load_config; print(load_config('$(CONFIG)', '$(OVERRIDES)'.split()).run_path)"))
	$(PY) -m pretrain --config $(CONFIG) --resume $(OVERRIDES)
	$(PY) -m evaluate --run $(RUN_DIR)

test: setup
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) scripts/check_docs.py
	$(PY) scripts/check_figures.py

bench: setup
	rm -rf runs/bench/$(BENCH_SCALE)
	TQDM_DISABLE=1 $(PY) -m bench --scale $(BENCH_SCALE)

clean:
	rm -rf runs .pytest_cache
