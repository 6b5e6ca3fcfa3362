"""MLflow runs of the pipeline: one parent run per pipeline execution, one nested run per stage.

The parent run (tag ``stage=pipeline``) is what people compare in the MLflow UI: its name says
what ran (system, profile, data, short commit, DVC experiment), it holds the key params of the
execution and, once ``evaluate`` has run, the final metrics (``logloss``, ``accuracy``, per head),
and its duration spans the stages. Stage runs nest under it and carry the stage's own params,
per-epoch curves, artifacts, the dataset as an MLflow input and the DVC hashes of what they read.

Runs of one execution share the tag ``pipeline_run``: ``AVSC_PIPELINE_RUN`` when set, else the
id of the ``dvc`` process that runs the stages (one ``dvc repro`` = one execution).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from avsc.config.settings import Params
from avsc.outage import is_unreachable, no_retries
from avsc.tracking.lineage import dvc_experiment, dvc_lineage
from avsc.tracking.service import ensure_experiment

log = logging.getLogger(__name__)

GIT_COMMIT_TAG = "mlflow.source.git.commit"


def pipeline_run_id() -> str:
    """Id of the current pipeline execution (see module docstring)."""
    env = os.environ.get("AVSC_PIPELINE_RUN")
    if env:
        return env
    try:
        import psutil

        proc = psutil.Process().parent()
        while proc is not None:
            argv = proc.cmdline()
            cmd = " ".join(argv)
            if argv and ("dvc" in Path(argv[0]).name or " dvc " in f" {cmd} " or "/dvc " in cmd):
                return f"dvc-{proc.pid}-{int(proc.create_time())}"
            proc = proc.parent()
    except Exception:
        pass
    return f"manual-{os.getpid()}-{int(time.time())}"


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mapping → ``a.b.c`` keys with string values (MLflow params)."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = str(value)[:6000]
    return out


TRAIN_KEYS = ("learning_rate", "mixup_alpha", "epochs", "batch_size")
TRAIN_STAGES = ("train_audio", "train_visual", "train_fusion", "finetune")


def key_params(params: Params) -> dict[str, str]:
    """What distinguishes one pipeline execution from another, for the parent run's params.

    The system and profile, the feature settings of the active system, its architecture, and the
    learning rate, mixup α, epochs and batch size of every training stage.
    """
    data = params.model_dump(by_alias=True)
    system = params.model.system
    keys: dict[str, Any] = {"system": system, "profile": params.base.profile, "seed": params.base.seed}
    features = data["features"]
    for modality in ("audio", "visual"):
        section = features[modality]
        keys[f"features.{modality}"] = section.get(system, section) if isinstance(section, dict) else section
    model = data["model"]
    keys["model"] = model.get(system, {k: v for k, v in model.items() if k != "system"})
    for stage in TRAIN_STAGES:
        keys[stage] = {k: data[stage][k] for k in TRAIN_KEYS if k in data[stage]}
    return flatten(keys)


def _git_tags() -> dict[str, str]:
    """MLflow's own source tags (git commit, entry point) for runs created with the client."""
    try:
        from mlflow.tracking.context.registry import resolve_tags

        return {k: v for k, v in resolve_tags().items() if k.startswith("mlflow.source.")}
    except Exception:
        return {}


def parent_run_name(*, system: str, profile: str, data: str, commit: str | None, experiment: str | None) -> str:
    """``secrnn · default · synthetic · 1a2b3c4 · dvc-exp`` (the parts that are known)."""
    parts = [system, profile, data]
    if commit:
        parts.append(commit[:7])
    if experiment:
        parts.append(experiment)
    return " · ".join(parts)


def parent_run(*, experiment_id: str, pipeline_run: str, params: Params, data: str) -> str:
    """The pipeline execution's parent run id, created (named, with key params) on first use."""
    import mlflow

    client = mlflow.MlflowClient()
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.pipeline_run = '{pipeline_run}' and tags.stage = 'pipeline'",
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    source = _git_tags()
    exp_name = dvc_experiment()
    tags = {
        "stage": "pipeline",
        "pipeline_run": pipeline_run,
        "system": params.model.system,
        "profile": params.base.profile,
        "data": data,
        **source,
    }
    if exp_name:
        tags["dvc_exp"] = exp_name
    name = parent_run_name(
        system=params.model.system,
        profile=params.base.profile,
        data=data,
        commit=source.get(GIT_COMMIT_TAG),
        experiment=exp_name,
    )
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    client.log_batch(
        run.info.run_id, params=[mlflow.entities.Param(k, v) for k, v in sorted(key_params(params).items())]
    )
    return run.info.run_id


def _mark_parent(parent_id: str, *, running: bool, status: str = "FINISHED") -> None:
    import mlflow

    client = mlflow.MlflowClient()
    try:
        if running:
            client.update_run(parent_id, status="RUNNING")
        else:
            client.set_terminated(parent_id, status=status)
    except Exception as exc:
        log.debug("could not update the pipeline run %s: %s", parent_id, exc)


def log_parent_metrics(metrics: Mapping[str, float]) -> None:
    """Copy the final metrics to the active stage run's parent (``evaluate`` calls this)."""
    import mlflow

    run = mlflow.active_run()
    parent = run.data.tags.get("mlflow.parentRunId") if run is not None else None
    if parent:
        mlflow.MlflowClient().log_batch(
            parent,
            metrics=[
                mlflow.entities.Metric(k, float(v), int(time.time() * 1000), 0) for k, v in sorted(metrics.items())
            ],
        )


@contextmanager
def stage_run(
    *,
    stage: str,
    params: Params,
    manifest: Mapping[str, Any],
    run_params: Mapping[str, Any] | None = None,
    lineage: tuple[str, ...] = (),
    resume_run_id: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
    dataset_context: str | None = None,
) -> Iterator[Any]:
    """An MLflow run for one pipeline stage, nested under the pipeline execution's parent run.

    ``resume_run_id`` continues an interrupted run (same run id, params not logged again).
    ``dataset_context`` ("train", "evaluate") logs the dataset as an MLflow input of the run.
    """
    import mlflow

    from avsc.tracking.datasets import log_dataset

    data = str(manifest["data"])
    exp_id = ensure_experiment(params.base.experiment)
    pipeline = pipeline_run_id()
    tags = {
        "stage": stage,
        "system": params.model.system,
        "profile": params.base.profile,
        "data": data,
        "pipeline_run": pipeline,
        "dataset_hash": str(manifest["dataset_hash"]),
        **dvc_lineage(lineage),
        **(extra_tags or {}),
    }
    exp_name = dvc_experiment()
    if exp_name:
        tags["dvc_exp"] = exp_name
    if resume_run_id:
        run = mlflow.start_run(run_id=resume_run_id)
        parent = run.data.tags.get("mlflow.parentRunId")
        log.info("continuing MLflow run %s (%s)", resume_run_id, stage)
    else:
        parent = parent_run(experiment_id=exp_id, pipeline_run=pipeline, params=params, data=data)
        tags["mlflow.parentRunId"] = parent
        run = mlflow.start_run(experiment_id=exp_id, run_name=stage, tags=tags)
    if parent:
        _mark_parent(parent, running=True)
    status, unreachable = "FINISHED", False
    try:
        mlflow.set_tags(tags)
        if run_params and not resume_run_id:
            mlflow.log_params(flatten(run_params))
        if dataset_context and not resume_run_id:
            log_dataset(manifest, context=dataset_context)
        yield run
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"  # Ctrl-C or SIGTERM: KILLED
        unreachable = is_unreachable(exc)  # the server is gone: one attempt to end the run, not a second wait
        with no_retries() if unreachable else nullcontext():
            try:
                mlflow.end_run(status=status)
            except Exception as end_exc:
                log.warning("could not mark MLflow run %s %s: %s", run.info.run_id, status, end_exc)
        raise
    else:
        mlflow.end_run()
    finally:
        if parent:
            with no_retries() if unreachable else nullcontext():
                _mark_parent(parent, running=False, status=status)
