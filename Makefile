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

# The demo runs to its night's settlement; then the hub serves the demo coalition with the
# finance console beside it (its URL and logins are printed), until Ctrl-C.
run: $(STAMP)
	$(BIN)/coalition demo --exit
	$(BIN)/coalition metrics --metric transfer_count --from $$(date -u -d '-7 days' +%F) --to $$(date -u +%F) --granularity week
	$(BIN)/coalition console --demo & trap 'kill $$!' EXIT; $(BIN)/coalition serve

test: lint typecheck check-proto
	$(BIN)/pytest --ignore=tests/reliability

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check-proto: $(STAMP)
	$(BIN)/python proto/generate.py --check
	$(BIN)/python proto/vectors.py --check

proto: $(STAMP)
	$(BIN)/python proto/generate.py

lint-proto:
	cd proto && npx --yes @bufbuild/buf lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache coalition.db coalition.db-* .coalition \
		examples/node/node_modules

# Speed is measured, not asserted. Settling a day on PostgreSQL at each size: settle time beside
# the plain SQL aggregate of the same rows, their ratio and peak memory
# (bench-results/settlement_day_<N>.json); then inclusion-proof latency at each proof size
# (bench-results/inclusion_proof.json).
BENCH_SETTLEMENT_SIZES ?= 100000 1000000
BENCH_PROOF_SIZES ?= 10000 100000 1000000
.PHONY: bench-settlement
bench-settlement: $(STAMP)
	for n in $(BENCH_SETTLEMENT_SIZES); do \
		$(BIN)/python -m benchmarks.settlement_day --transfers $$n \
			--output bench-results/settlement_day_$$n.json || exit 1; \
	done
	$(BIN)/python -m benchmarks.inclusion_proof --records $(BENCH_PROOF_SIZES)

# The coalition's measures on PostgreSQL: the cost of folding a day, and 90-day series latency
# over 1,000,000 transfers and 100,000 members (bench-results/metrics_rollup.json).
.PHONY: bench-metrics
bench-metrics: $(STAMP)
	$(BIN)/python -m benchmarks.metrics_rollup

# The hub against the machine's own limits (gRPC echo, raw psycopg loop) on PostgreSQL;
# prints a table and writes bench-results/hub.json. BENCH_DATABASE_URL names the server.
BENCH_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
BENCH_SECONDS ?= 10
.PHONY: bench
bench: $(STAMP)
	$(BIN)/coalition bench --database-url $(BENCH_DATABASE_URL) --seconds $(BENCH_SECONDS)

# Locust, headless and bounded, against a hub it starts on a scratch SQLite database.
LOAD_SECONDS ?= 60
LOAD_USERS ?= 16
LOAD_STAMP := $(VENV)/.load-stamp
$(LOAD_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,load]'
	@touch $(LOAD_STAMP)
.PHONY: load
load: $(LOAD_STAMP)
	$(BIN)/python loadtests/run.py --seconds $(LOAD_SECONDS) --users $(LOAD_USERS)

# Crashes, outages, races, hostile input and privacy: bounded, with a summary at the end.
.PHONY: test-reliability
test-reliability: $(STAMP)
	$(BIN)/pytest tests/reliability
