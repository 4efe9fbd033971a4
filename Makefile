.PHONY: setup test lint docs bench
PYTHON ?= python3

setup:  ## install Python deps and, without Docker, the local servers (idempotent)
	PYTHON=$(PYTHON) ./scripts/setup.sh

test:
	$(PYTHON) -m pytest

lint:
	ruff check . && ruff format --check . && mypy

bench:  ## benchmarks: per-test cost, startup, scaling, memory; prints the tables (python bench/run.py --quick: smoke run)
	$(PYTHON) bench/run.py
