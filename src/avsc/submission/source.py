"""Where a registered model came from: its version, its evaluate run and its pipeline's key params.

A version registered by ``avsc register`` carries ``source_run`` (the register run). That run's
``pipeline_run`` tag leads to the evaluate run of the same pipeline execution (its metrics are
the development-set results); its parent run holds the key params (mixup, augmentation).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from avsc.errors import AvscError

log = logging.getLogger(__name__)

MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelSource:
    """A model version and what its evaluate run recorded."""

    name: str
    version: str
    run_id: str  # the version's run (register)
    evaluate_run_id: str
    metrics: dict[str, float]
    tags: dict[str, str]
    pipeline_params: dict[str, str]


def resolve_version(client, uri: str):
    """The model version behind ``models:/name@alias`` or ``models:/name/N``."""
    from mlflow.exceptions import MlflowException

    match = MODEL_URI.match(uri)
    if not match:
        raise AvscError(f"{uri}: the submission needs a registered model, models:/NAME@ALIAS or models:/NAME/N")
    try:
        if match["alias"]:
            return client.get_model_version_by_alias(match["name"], match["alias"])
        return client.get_model_version(match["name"], match["version"])
    except MlflowException as exc:
        raise AvscError(f"{uri}: no such model version ({str(exc).splitlines()[0][:200]})") from None


def model_source(uri: str) -> ModelSource:
    """The version of ``uri`` and its evaluate run.

    Raises
    ------
    AvscError
        The URI does not name a registered version, or its evaluate run cannot be found.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from avsc.tracking.service import configure

    configure()
    client = mlflow.MlflowClient()
    version = resolve_version(client, uri)
    run_id = version.tags.get("source_run") or version.run_id
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise AvscError(f"{uri}: version {version.version}'s run {run_id} is not in the tracking store") from None
    pipeline = run.data.tags.get("pipeline_run")
    found: list = []
    if pipeline:
        found = client.search_runs(
            [run.info.experiment_id],
            filter_string=f"tags.stage = 'evaluate' and tags.pipeline_run = '{pipeline}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    if not found:
        raise AvscError(
            f"{uri}: no evaluate run of version {version.version}'s pipeline execution "
            f"({pipeline or 'untagged'}); the development-set results cannot be filled"
        )
    evaluate = found[0]
    parent_params: dict[str, str] = {}
    parent = evaluate.data.tags.get("mlflow.parentRunId")
    if parent:
        try:
            parent_params = dict(client.get_run(parent).data.params)
        except MlflowException:
            log.warning("submission: parent run %s of the evaluate run is missing; no augmentation info", parent)
    return ModelSource(
        name=version.name,
        version=str(version.version),
        run_id=run_id,
        evaluate_run_id=evaluate.info.run_id,
        metrics=dict(evaluate.data.metrics),
        tags=dict(version.tags),
        pipeline_params=parent_params,
    )
