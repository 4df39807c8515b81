# The two commands of the README: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck check-proto proto lint-proto clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/coalition demo

test: lint typecheck check-proto
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check-proto: $(STAMP)
	$(BIN)/python proto/generate.py --check

proto: $(STAMP)
	$(BIN)/python proto/generate.py

lint-proto:
	cd proto && npx --yes @bufbuild/buf lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache coalition.db coalition.db-* .coalition

# Speed is measured, not asserted: prints figures and writes bench-results/settlement_day.json.
BENCH_TRANSFERS ?= 1000000
.PHONY: bench-settlement
bench-settlement: $(STAMP)
	$(BIN)/python -m benchmarks.settlement_day --transfers $(BENCH_TRANSFERS)
