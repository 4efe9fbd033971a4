.PHONY: setup test test-docker lint docs bench
PYTHON ?= python3

setup:  ## install Python deps and, without Docker, the local servers (idempotent)
	PYTHON=$(PYTHON) ./scripts/setup.sh

test:
	$(PYTHON) -m pytest

test-docker:  ## the suite on the Docker backend: private engine + stand-in images (as root)
	PYTHON=$(PYTHON) ./scripts/test-docker.sh -n 2

lint:
	ruff check . && ruff format --check . && mypy

bench:  ## benchmarks: per-test cost, startup, scaling, memory; prints the tables (python bench/run.py --quick: smoke run)
	$(PYTHON) bench/run.py
