"""MLflow's store: where it is, and the experiment runs go to.

Default store: ``sqlite:///<project>/mlruns/mlflow.db`` (WAL journal, 60-s busy timeout so several
writers wait instead of failing with "database is locked"), artifacts under
``<project>/mlruns/artifacts``. ``MLFLOW_TRACKING_URI`` overrides it: a tracking server
(``http(s)://``, e.g. the team server of ``avsc server start``) decides where artifacts go itself,
so ``AVSC_MLFLOW_ARTIFACTS`` only applies to local stores.

The project is the repository that owns the DVC pipeline: ``DVC_ROOT`` when DVC runs the stage
(DVC points it at the parent repository for queued and ``--temp`` experiments, whose stages run
in a temporary copy under ``.dvc/tmp/exps``), else the folder holding ``params.yaml``. So the runs
of every experiment land in the one store the MLflow UI shows.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sqlite3
from pathlib import Path

from avsc.config.settings import find_root

__all__ = ["configure", "ensure_experiment", "tracking_uri"]

log = logging.getLogger(__name__)

#: MLflow 3 keeps an experiment's kind in this tag; "custom_model_development" makes the UI open on
#: training runs (not on the GenAI traces overview).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"

#: A saved view of the runs table (MLflow's "shared view state", an experiment tag): the runs table
#: hides every metric column by default; this view shows the pipeline runs' final metrics.
#: Open it with :func:`pipeline_view_url`.
PIPELINE_VIEW_KEY = "avsc-pipelines"
PIPELINE_VIEW_TAG = f"mlflow.sharedViewState.{PIPELINE_VIEW_KEY}"
PIPELINE_VIEW = json.dumps(
    {
        "selectedColumns": [
            "metrics.`accuracy`",
            "metrics.`logloss`",
            "params.`profile`",
            "tags.`data`",
        ]
    },
    separators=(",", ":"),
)
#: Tags every avsc experiment carries.
EXPERIMENT_TAGS = {EXPERIMENT_KIND_TAG: EXPERIMENT_KIND, PIPELINE_VIEW_TAG: PIPELINE_VIEW}

#: Schemes of tracking URIs that are a server, not a store avsc opens itself.
SERVER_SCHEMES = ("http://", "https://", "databricks")


def project_root() -> Path:
    """The repository whose store the runs go to: ``DVC_ROOT`` (set by DVC for every stage) or :func:`find_root`."""
    env = os.environ.get("DVC_ROOT")
    return Path(env).resolve() if env else find_root()


def tracking_uri(root: Path | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` or the project's SQLite store."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(root or project_root()) / 'mlruns' / 'mlflow.db'}"


def normalize_db_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg2://`` when psycopg 3 (SQLAlchemy 2.1's default) is absent."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix) and importlib.util.find_spec("psycopg") is None:
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def is_server(uri: str) -> bool:
    """Whether ``uri`` is a tracking server (it stores artifacts where it decides)."""
    return uri.startswith(SERVER_SCHEMES)


def artifact_root(root: Path | None = None) -> str | None:
    """Where new experiments keep artifacts (local stores only; a server decides for itself)."""
    uri = tracking_uri(root)
    if is_server(uri):
        return None
    env = os.environ.get("AVSC_MLFLOW_ARTIFACTS")
    if env:
        return Path(env).resolve().as_uri()
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


def move_credentials(uri: str) -> str:
    """``http(s)://user:password@host`` → ``http(s)://host``, the credentials put in MLflow's own variables.

    MLflow prints run links and error messages with the tracking URI it was given; with the user
    and password in ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` (basic auth, as
    before) the URI it shows carries none. Variables the user already set are kept.
    """
    from urllib.parse import unquote, urlsplit, urlunsplit

    if not uri.startswith(("http://", "https://")):
        return uri
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri
    userinfo, hostport = parts.netloc.rsplit("@", 1)
    user, _, password = userinfo.partition(":")
    if user:
        os.environ.setdefault("MLFLOW_TRACKING_USERNAME", unquote(user))
    if password:
        os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", unquote(password))
    return urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))


def configure(root: Path | None = None) -> str:
    """Point MLflow at the store and return the URI in use (credentials of a server URI moved out of it)."""
    import mlflow

    uri = move_credentials(tracking_uri(root))
    if uri.startswith("sqlite:///"):
        uri = _prepare_sqlite(uri)
    uri = normalize_db_url(uri)  # a PostgreSQL store opened directly: the installed driver
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def pipeline_view_url(server_url: str, experiment_id: str) -> str:
    """The MLflow UI's runs table of ``experiment_id`` with the pipeline view's columns."""
    return f"{server_url.rstrip('/')}/#/experiments/{experiment_id}/runs?viewStateShareKey={PIPELINE_VIEW_KEY}"


def _tag_experiment(client, exp) -> None:
    """Add or update :data:`EXPERIMENT_TAGS` (a user who may only read the experiment leaves it as it is)."""
    from mlflow.exceptions import MlflowException

    for key, value in EXPERIMENT_TAGS.items():
        if exp.tags.get(key) != value and (key != EXPERIMENT_KIND_TAG or key not in exp.tags):
            try:
                client.set_experiment_tag(exp.experiment_id, key, value)
            except MlflowException as exc:
                log.debug("could not set the experiment tag %s: %s", key, exc)


def ensure_experiment(name: str, root: Path | None = None) -> str:
    """Experiment id, creating it (artifacts under mlruns/artifacts, kind: model training) when needed."""
    import mlflow
    from mlflow.exceptions import MlflowException

    configure(root)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            exp_id = client.create_experiment(name, artifact_location=artifact_root(root), tags=EXPERIMENT_TAGS)
        except MlflowException:  # created concurrently by another process
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
            exp_id = exp.experiment_id
    else:
        exp_id = exp.experiment_id
        _tag_experiment(client, exp)
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id
