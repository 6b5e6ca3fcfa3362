"""MLflow wiring: the tracking store, experiments, pipeline grouping, stage runs and lineage.

Default store: ``sqlite:///<repo>/mlruns/mlflow.db`` (WAL journal, 60-s busy timeout so several
writers wait instead of failing with "database is locked"), artifacts under
``<repo>/mlruns/artifacts``. ``MLFLOW_TRACKING_URI`` overrides it (e.g. a tracking server).

Runs of one pipeline execution share the tag ``pipeline_run`` and are nested under one parent run
(``stage=pipeline``), so the MLflow UI shows them together. The execution id is
``AVSC_PIPELINE_RUN`` when set, else the id of the ``dvc`` process that runs the stages.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import yaml

from avsc.config.settings import find_root

log = logging.getLogger(__name__)
SYSTEM_TAGS = ("stage", "system", "data", "pipeline_run")


def tracking_uri(root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` or the repository's SQLite store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(root or find_root()) / 'mlruns' / 'mlflow.db'}"


def artifact_root(root: Path | None = None) -> str | None:
    """Where new experiments keep artifacts (local stores only; a server decides for itself)."""
    env = os.environ.get("AVSC_MLFLOW_ARTIFACTS")
    if env:
        return Path(env).resolve().as_uri()
    uri = tracking_uri(root)
    if uri.startswith("sqlite:///"):
        db = Path(uri.removeprefix("sqlite:///").split("?")[0])
        return (db.parent / "artifacts").resolve().as_uri()
    return None


def _prepare_sqlite(uri: str) -> str:
    """Create the folder, switch the database to WAL and add a busy timeout to the URI."""
    db = Path(uri.removeprefix("sqlite:///").split("?")[0])
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db, timeout=60)
    try:
        con.execute("PRAGMA journal_mode=WAL")
    finally:
        con.close()
    return uri if "?" in uri else f"{uri}?timeout=60"


def configure(root: Path | None = None) -> str:
    """Point MLflow at the store and return the URI in use."""
    import mlflow

    uri = tracking_uri(root)
    if uri.startswith("sqlite:///"):
        uri = _prepare_sqlite(uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str, root: Path | None = None) -> str:
    """Experiment id, creating it (with artifacts under mlruns/artifacts) when needed."""
    import mlflow
    from mlflow.exceptions import MlflowException

    configure(root)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            exp_id = client.create_experiment(name, artifact_location=artifact_root(root))
        except MlflowException:  # created concurrently by another process
            exp_id = client.get_experiment_by_name(name).experiment_id
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def pipeline_run_id() -> str:
    """Id of the current pipeline execution (see module docstring)."""
    env = os.environ.get("AVSC_PIPELINE_RUN")
    if env:
        return env
    try:
        import psutil

        proc = psutil.Process().parent()
        while proc is not None:
            cmd = " ".join(proc.cmdline())
            if "dvc" in Path(proc.cmdline()[0]).name or " dvc " in f" {cmd} " or "/dvc " in cmd:
                return f"dvc-{proc.pid}-{int(proc.create_time())}"
            proc = proc.parent()
    except Exception:  # psutil may be unable to read a process
        pass
    return f"manual-{os.getpid()}-{int(time.time())}"


def git_commit(root: Path | None = None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root or find_root(), capture_output=True, text=True,
                             timeout=10)
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root or find_root(),
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (commit + ("-dirty" if dirty else "")) if commit else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dvc_lineage(stages: tuple[str, ...], root: Path | None = None) -> dict[str, str]:
    """``dvc.<stage>.<out>`` → md5 of upstream outputs, read from ``dvc.lock``."""
    lock = (root or find_root()) / "dvc.lock"
    if not lock.is_file():
        return {}
    data = yaml.safe_load(lock.read_text()) or {}
    tags = {}
    for stage in stages:
        for out in (data.get("stages", {}).get(stage, {}) or {}).get("outs", []) or []:
            if out["path"].endswith((".png", "history.json", "metrics.json")):
                continue  # reports, not inputs
            tags[f"dvc.{stage}.{out['path']}"] = out.get("md5", "")
    return tags


def _parent_run(experiment_id: str, pipeline_run: str, data: str) -> str:
    import mlflow

    client = mlflow.MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"tags.pipeline_run = '{pipeline_run}' and "
                               "tags.stage = 'pipeline'", max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"pipeline {pipeline_run}",
                            tags={"stage": "pipeline", "pipeline_run": pipeline_run, "data": data,
                                  "git_commit": git_commit()})
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@contextmanager
def stage_run(
    *,
    stage: str,
    system: str,
    data: str,
    experiment: str,
    params: dict | None = None,
    lineage: tuple[str, ...] = (),
    resume_run_id: str | None = None,
    extra_tags: dict | None = None,
) -> Iterator[object]:
    """An MLflow run for one pipeline stage, nested under the pipeline execution's parent run.

    ``resume_run_id`` continues an interrupted run (same run id) instead of starting a new one.
    """
    import mlflow

    exp_id = ensure_experiment(experiment)
    pipeline_run = pipeline_run_id()
    tags = {
        "stage": stage,
        "system": system,
        "data": data,
        "pipeline_run": pipeline_run,
        "git_commit": git_commit(),
        **dvc_lineage(lineage),
        **(extra_tags or {}),
    }
    if resume_run_id:
        run = mlflow.start_run(run_id=resume_run_id)
        log.info("continuing MLflow run %s (%s)", resume_run_id, stage)
    else:
        parent = _parent_run(exp_id, pipeline_run, data)
        tags["mlflow.parentRunId"] = parent
        run = mlflow.start_run(experiment_id=exp_id, run_name=f"{stage}", tags=tags)
    try:
        mlflow.set_tags(tags)
        if params and not resume_run_id:
            mlflow.log_params(flatten(params))
        yield run
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run()


def flatten(mapping: dict, prefix: str = "") -> dict[str, str]:
    """Nested mapping → ``a.b.c`` keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out
