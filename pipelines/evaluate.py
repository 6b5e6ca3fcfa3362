"""DVC stage `evaluate`: DCASE metrics, predictions, plots and the comparison report."""

from _run import run_stage
from avsc.evaluation.stage import evaluate

if __name__ == "__main__":
    run_stage("evaluate", evaluate)
