# Two entry points for a fresh machine: `make run` (the demo) and `make test` (the suite).
# Both create .venv with the pinned dependencies on first use and are safe to repeat.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.genolm-installed
CORES ?= all

.PHONY: run test check lint format clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

# The fast tier for the edit-test loop: every unit test, no workflow, SLURM or browser run.
check: $(STAMP)
	$(BIN)/python -m pytest -m unit -q

lint: $(STAMP)
	$(BIN)/ruff check genolm tests workflow benchmarks
	$(BIN)/ruff format --check genolm tests workflow benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(BIN)/ruff format genolm tests workflow benchmarks
	$(BIN)/snakefmt Snakefile workflow/rules

clean:
	rm -rf results .snakemake
