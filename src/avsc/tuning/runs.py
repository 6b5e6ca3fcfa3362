"""MLflow runs of a search: one parent run per ``avsc tune`` invocation, one nested run per trial.

Trial runs are tagged ``optuna_study``, ``optuna_trial`` and ``optuna_state`` (plus
``optuna_retry_of`` for a re-run of a killed worker's trial). MLflow is bookkeeping: after a
trial trained, an MLflow failure is logged and never changes the trial's outcome.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from avsc.config.settings import Params
from avsc.tuning.options import TuneOptions
from avsc.tuning.retries import best_effort, retry
from avsc.tuning.space import yaml_value


def experiment_id(params: Params, root: Path) -> str:
    """Experiment id; the first creation of a local SQLite store is serialised across processes."""
    from filelock import FileLock

    from avsc.tracking.service import ensure_experiment, tracking_uri

    uri = tracking_uri(root)
    lock: contextlib.AbstractContextManager = contextlib.nullcontext()
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///").split("?")[0])
        db.parent.mkdir(parents=True, exist_ok=True)
        # fcntl lock: released by the kernel if this process dies while MLflow migrates the schema
        lock = FileLock(f"{db}.avsc-init-lock", timeout=600)
    with lock:
        return retry(ensure_experiment, params.base.experiment, root, what="mlflow experiment")


def start_parent(exp_id: str, opts: TuneOptions, params: Params, *, storage_label: str, space: dict[str, str]) -> Any:
    import mlflow

    run = retry(
        mlflow.start_run,
        experiment_id=exp_id,
        run_name=f"tune {opts.study_name}",
        tags={
            "stage": "tune",
            "optuna_study": opts.study_name,
            "tune_target": opts.target,
            "optuna_storage": storage_label,
        },
        what="mlflow.start_run",
    )
    best_effort(
        mlflow.log_params,
        {
            "target": opts.target,
            "max_epochs": opts.max_epochs,
            "n_trials": str(opts.n_trials),
            "timeout_s": str(opts.timeout),
            "pruner": params.tune.pruner,
            "sampler": "TPE",
            "sampler_seed": params.tune.sampler_seed,
            "storage": storage_label,
            "objective": "val macro class-wise log-loss",
            **space,
        },
        what="mlflow.log_params",
    )
    return run


def end_parent(summary: dict, status: str) -> None:
    import mlflow

    best_effort(
        mlflow.log_metrics,
        {k: float(v) for k, v in summary["counts"].items()}
        | {"epochs_saved": float(summary["epochs_saved"])}
        | ({"best_value": summary["best_value"]} if summary["best_value"] is not None else {}),
        what="mlflow.log_metrics",
    )
    retry(mlflow.end_run, status=status, what="mlflow.end_run")


def end_open_trial_runs(parent_run_id: str) -> None:
    """After an interrupt: close the nested runs still open above the parent run."""
    import mlflow

    while (active := mlflow.active_run()) is not None and active.info.run_id != parent_run_id:
        best_effort(mlflow.set_tag, "optuna_state", "FAIL", what="mlflow.set_tag")
        mlflow.end_run(status="KILLED")


def start_trial(opts: TuneOptions, trial: Any, values: dict[str, Any], *, retry_of: int | None) -> Any:
    """The trial's nested run, with its parameters in params.yaml terms."""
    import mlflow

    tags = {
        "stage": "tune_trial",
        "optuna_study": opts.study_name,
        "optuna_trial": str(trial.number),
        "optuna_state": "RUNNING",
        "tune_target": opts.target,
    }
    if retry_of is not None:
        tags["optuna_retry_of"] = str(retry_of)
    run = retry(
        mlflow.start_run,
        run_name=f"{opts.study_name} trial {trial.number}",
        nested=True,
        tags=tags,
        what="mlflow.start_run",
    )
    retry(
        mlflow.log_params,
        {
            **{k: yaml_value(v) for k, v in values.items()},
            "max_epochs": opts.max_epochs,
            "target": opts.target,
            "optuna_trial": trial.number,
        },
        what="mlflow.log_params",
    )
    return run


def log_epoch(value: float, accuracy: float | None, epoch: int) -> None:
    import mlflow

    record = {"val/logloss": value} | ({"val/macro_accuracy": accuracy} if accuracy is not None else {})
    best_effort(mlflow.log_metrics, record, step=epoch, what="mlflow.log_metrics")


def end_trial(state: str, value: float | None, accuracy: float | None, status: str) -> None:
    """Close the trial's nested run with its Optuna state (and value)."""
    import mlflow

    if value is not None:
        metrics = {"objective_logloss": value} | ({"objective_accuracy": accuracy} if accuracy is not None else {})
        best_effort(mlflow.log_metrics, metrics, what="mlflow.log_metrics")
        best_effort(mlflow.set_tag, "optuna_value", f"{value:.6f}", what="mlflow.set_tag")
    best_effort(mlflow.set_tag, "optuna_state", state, what="mlflow.set_tag")
    best_effort(mlflow.end_run, status=status, what="mlflow.end_run")
