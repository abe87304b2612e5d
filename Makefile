# The two commands of the README:
#   make demo   set up and run the main job on the embedded default
#   make test   set up and run the test suite (needs PostgreSQL and Redis)
#   make compose-check  run docker-compose.yml's services as rendered (tests/compose/)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-unit test-soak lint soak soak-short bench bench-latency bench-lifecycle compose-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[sandbox,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/ifs-shipbob demo

# The compose check and the short soak have their own targets (.ci/run runs all three).
test: $(STAMP)
	$(BIN)/python -m pytest -q --ignore=tests/compose --ignore=tests/soak

# The short soak (bench/soak.py --short) with its scorecard's assertions: ~4 min.
test-soak: $(STAMP)
	$(BIN)/python -m pytest -q tests/soak

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Renders docker-compose.yml with docker compose (or docker-compose) and runs
# every service as its container would (bubblewrap, as root); see tests/compose/.
compose-check: $(STAMP)
	$(BIN)/python -m pytest -q tests/compose

soak: $(STAMP)
	$(BIN)/python bench/soak.py

soak-short: $(STAMP)
	$(BIN)/python bench/soak.py --short

bench: $(STAMP)
	$(BIN)/python bench/webhook_ingest.py
	$(BIN)/python bench/inventory_sync.py

bench-latency: $(STAMP)
	$(BIN)/python bench/release_latency.py

# ShipBob calls per order from release to delivery, and orders/day at 150/min.
bench-lifecycle: $(STAMP)
	$(BIN)/python bench/lifecycle.py

clean:
	rm -rf $(VENV) state reports .pytest_cache .cache
