# OptiFlow — every task sets itself up; `make demo` and `make test` work on a fresh clone.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup demo replay test check lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

## Backtest bots A, B and C on the bundled real Binance data; writes out/demo/.
demo: setup
	$(VENV)/bin/optiflow backtest A B C --data data/binance_spot_1m --out out/demo

## Run bot A through the live runtime on the bundled data (replay at 3000x real time).
replay: setup
	$(VENV)/bin/optiflow run A --mode replay

## The whole test suite.
test: setup
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

## Lint, types, architecture rules and tests — what CI runs.
check: lint test

bench: setup
	$(PY) bench/run_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
