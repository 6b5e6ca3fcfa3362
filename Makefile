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

.DEFAULT_GOAL := help
.PHONY: help install run data pipeline promote test test-fast bench ui clean-run paper

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install avsc with pinned dependencies

data: install ## create the synthetic sample at data.root when it is missing
	$(BIN)/python -m avsc.data.bootstrap

pipeline: data ## dvc repro: all stages from prepare to register
	$(BIN)/dvc repro

promote: install ## move @champion to the challenger when it is better
	$(BIN)/avsc promote

run: pipeline promote ## set up, run the whole pipeline on the synthetic sample, promote
	@$(BIN)/python -m avsc.evaluation.summary

test: install ## set up and run the tests (slow ones included)
	$(BIN)/python -m pytest -q

test-fast: install ## the tests without the slow ones
	$(BIN)/python -m pytest -q -m "not slow"

bench: install ## benchmarks (gammatone fidelity and speed, input pipeline throughput)
	$(BIN)/python benchmarks/bench_gammatone.py
	$(BIN)/python benchmarks/bench_input_pipeline.py

ui: install ## open the MLflow UI on the local store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host 127.0.0.1 --port 5000

paper: install ## switch params.yaml to the paper profile (then `dvc repro`)
	$(BIN)/avsc profile paper
