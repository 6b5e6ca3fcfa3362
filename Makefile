# avsc: two commands on a fresh machine. `make run` runs the whole pipeline on the synthetic
# sample; `make test` runs the tests. Both create .venv and install the project first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlruns/mlflow.db
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
# Test processes (pytest-xdist); whole test files stay on one worker, so module fixtures run once.
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install run pipeline promote test test-fast check deps bench bench-scale ui clean-run paper

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install avsc with pinned dependencies

pipeline: install ## dvc repro: every stage, from the synthetic sample (synth) to register
	$(BIN)/dvc repro

promote: install ## move @champion to the challenger when it is better
	$(BIN)/avsc promote

run: pipeline promote ## set up, run the whole pipeline on the synthetic sample, promote
	@$(BIN)/python -m avsc.evaluation.summary

test: install check ## set up, run the quality gates (make check), then the tests (slow ones included)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

test-fast: install ## the tests without the slow ones
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow"

check: install ## lint, format and type checks (ruff, mypy) and dvc.yaml deps = imports
	$(BIN)/ruff check src pipelines tests benchmarks
	$(BIN)/ruff format --check src pipelines tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m avsc.devtools.stage_deps

deps: install ## rewrite the code deps of every dvc.yaml stage to exactly what it imports
	$(BIN)/python -m avsc.devtools.stage_deps --write

bench: install ## benchmarks (gammatone fidelity and speed, input pipeline throughput)
	$(BIN)/python benchmarks/bench_gammatone.py
	$(BIN)/python benchmarks/bench_input_pipeline.py

bench-scale: install ## project time, disk and memory of every stage for the full TAU dev set (default + paper)
	$(BIN)/avsc bench scale
	$(BIN)/avsc bench scale --profile paper

ui: install ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

paper: install ## switch params.yaml to the paper profile (then `dvc repro`)
	$(BIN)/avsc profile paper
