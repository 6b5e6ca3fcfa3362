"""``avsc store migrate``: copy a local SQLite store's history into the team server's database.

Mechanism: a table-by-table copy between the two SQLAlchemy databases, in one transaction on the
target, after both schemas are at the installed MLflow's version (the target is created or
checked by MLflow's own ``SqlAlchemyStore``; a snapshot of the source is brought up to date with
``mlflow db upgrade`` when it is older). Why not MLflow's client API (``create_run``,
``log_batch``, ``create_model_version``...): it cannot keep ids. Every run would get a new run id
(breaking the ``run_id`` links that avsc keeps in ``models/*/metrics.json``, registry version
tags such as ``source_run``, and ``mlflow.parentRunId``), logged models new ``m-…`` ids, registry
versions renumbered from 1, and it would be hundreds of HTTP calls per run. Copying rows keeps
run ids, metric histories (every step and timestamp), params, tags, dataset inputs, logged
models, registered models with their version numbers, tags and aliases exactly; only experiment
ids are remapped (a source experiment joins the target's experiment of the same name, or becomes
a new one) and artifact URIs under the source's artifact folders are rewritten to the server's
proxied location, with the files copied to its artifact destination (see :mod:`.migrate_plan`).

Safety: the source is read through a SQLite backup into a temporary snapshot (read-only
connection), never written. The migration refuses, before writing anything, when the target
already holds one of the runs, logged models or registered models, or a file at a destination
path, and when the source holds rows the copy does not know (GenAI traces, evaluation data...).
If anything fails midway the transaction rolls back and the files copied so far are removed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from avsc.errors import AvscError
from avsc.secrets import hide_secrets, redact_url
from avsc.tracking.server import migrate_copy as copy
from avsc.tracking.server.layout import Layout
from avsc.tracking.server.migrate_plan import (
    REGISTRY_TABLES,
    TABLES,
    ExperimentMove,
    Plan,
    conflicts,
    local_folder,
    target_folder,
    unsupported,
)
from avsc.tracking.service import normalize_db_url

log = logging.getLogger(__name__)


def default_source() -> str:
    """The project's own SQLite store (whatever ``MLFLOW_TRACKING_URI`` says now)."""
    from avsc.tracking.service import project_root

    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def _sqlite_path(uri: str) -> Path:
    if not uri.startswith("sqlite:///"):
        raise AvscError(f"--from {redact_url(uri)}: expected a SQLite store, sqlite:///PATH")
    path = Path(uri.removeprefix("sqlite:///").split("?")[0])
    if not path.is_file():
        raise AvscError(f"{path}: no such SQLite store")
    return path


def snapshot(source: Path, folder: Path) -> Path:
    """A consistent copy of the source database, read through a read-only connection."""
    out = folder / "source-snapshot.db"
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(out)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return out


def _schema_version(engine) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _prepare_target(url: str, shown: str) -> None:
    """Create the MLflow schema in an empty target database, or check that it is current."""
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)  # one quick attempt: MLflow's own engine retries for minutes
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
        SqlAlchemyStore(url, "mlflow-artifacts:/")
    except (MlflowException, SQLAlchemyError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise AvscError(f"--to {shown}: cannot use it as the MLflow store ({hide_secrets(first, url)[:300]})") from None


def _upgrade_snapshot(path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise AvscError(f"upgrading a snapshot of the source schema failed: {tail[:300]}")


def _plan(src, dst, *, destination: Path, with_registry: bool) -> Plan:
    plan = Plan()
    counts = copy.row_counts(src)
    for table in unsupported(counts):
        plan.refusals.append(f"the source has {counts[table]} row(s) in table {table}, which migrate does not copy")
    target_exps = {(r["name"], r.get("workspace")): r for r in copy.rows(dst, "experiments")}
    for row in copy.rows(src, "experiments"):
        move = ExperimentMove(source_id=int(row["experiment_id"]), name=row["name"])
        move.source_location = row["artifact_location"] or ""
        existing = target_exps.get((row["name"], row.get("workspace")))
        if existing is not None:
            move.target_id = int(existing["experiment_id"])
            move.target_location = existing["artifact_location"]
            if existing["lifecycle_stage"] != "active":
                plan.notes.append(f"experiment {row['name']!r} is deleted on the target; its runs join it there")
        if local_folder(move.source_location) is None:
            plan.notes.append(f"experiment {row['name']!r}: artifacts at {move.source_location!r} are not copied")
        plan.experiments.append(move)
    src_runs = [r["run_uuid"] for r in copy.rows(src, "runs", columns=("run_uuid",))]
    dst_runs = [r["run_uuid"] for r in copy.rows(dst, "runs", columns=("run_uuid",))]
    checks = [conflicts("run", src_runs, dst_runs, "runs")]
    checks.append(
        conflicts(
            "logged model",
            [r["model_id"] for r in copy.rows(src, "logged_models", columns=("model_id",))],
            [r["model_id"] for r in copy.rows(dst, "logged_models", columns=("model_id",))],
            "logged models",
        )
    )
    if with_registry:
        checks.append(
            conflicts(
                "registered model",
                [r["name"] for r in copy.rows(src, "registered_models", columns=("name",))],
                [r["name"] for r in copy.rows(dst, "registered_models", columns=("name",))],
                "registered models",
                "; --no-registry copies the runs only",
            )
        )
    plan.refusals += [c for c in checks if c]
    for move in plan.experiments:
        if move.target_location is not None and target_folder(move.target_location, destination) is None:
            plan.refusals.append(
                f"experiment {move.name!r} on the target keeps artifacts at {move.target_location!r}, "
                "which migrate cannot write to"
            )
    return plan


def migrate(
    *, source: str, target: str, destination: Path, with_registry: bool = True, work: Path | None = None
) -> dict[str, Any]:
    """Copy ``source`` (SQLite) into ``target`` (a database URL) and its artifacts to ``destination``."""
    from sqlalchemy import create_engine

    if target.startswith(("http://", "https://")):
        raise AvscError(
            f"--to {redact_url(target)}: give the server's database URL (postgresql://...), not its tracking URI; "
            "`avsc server start` prints it"
        )
    shown, target = redact_url(target), normalize_db_url(target)
    source_db = _sqlite_path(source)
    destination = destination.resolve()
    _prepare_target(target, shown)
    with tempfile.TemporaryDirectory(prefix="avsc-migrate-", dir=work) as tmp:
        snap = snapshot(source_db, Path(tmp))
        src = create_engine(f"sqlite:///{snap}")
        dst = create_engine(target, pool_pre_ping=True)
        try:
            if _schema_version(src) != _schema_version(dst):
                src.dispose()
                _upgrade_snapshot(snap)
                src = create_engine(f"sqlite:///{snap}")
                if _schema_version(src) != _schema_version(dst):
                    raise AvscError(
                        f"--to {shown}: its MLflow schema ({_schema_version(dst)}) is not this MLflow's; "
                        "upgrade the server first (mlflow db upgrade)"
                    )
            plan = _plan(src, dst, destination=destination, with_registry=with_registry)
            if plan.refusals:
                raise AvscError(f"refusing to migrate into {shown}: {plan.refusals[0]}")
            tables = [t for t in TABLES if with_registry or t not in REGISTRY_TABLES]
            counts = copy.execute(src, dst, plan, tables=tables, destination=destination)
        finally:
            src.dispose()
            dst.dispose()
    counts["notes"] = plan.notes
    return counts


def migrate_command(*, to: str, source: str | None, artifacts: Path | None, folder: Path, with_registry: bool) -> str:
    """``avsc store migrate``: resolve the defaults, migrate, return the summary line."""
    layout = Layout.at(folder)
    if not os.environ.get("PGPASSFILE") and layout.pgpass.is_file():
        os.environ["PGPASSFILE"] = str(layout.pgpass)  # the server's password file, as `avsc server start` prints
    if artifacts is None:
        if not layout.artifacts.is_dir():
            raise AvscError(
                f"{layout.artifacts}: no server artifact folder there; pass --artifacts-destination "
                "(the server's --artifacts-destination) or --dir"
            )
        artifacts = layout.artifacts
    source = source or default_source()
    counts = migrate(source=source, target=to, destination=artifacts, with_registry=with_registry)
    for note in counts["notes"]:
        log.warning("%s", note)
    counts = {k: counts.get(k, 0) for k in (*TABLES, "experiments", "new_experiments", "files")}
    return (
        f"migrated {redact_url(source)} -> {redact_url(to)}: {counts['experiments']} experiment(s) "
        f"({counts['new_experiments']} new), {counts['runs']} run(s), {counts['metrics']} metric point(s), "
        f"{counts['params']} param(s), {counts['tags']} tag(s), {counts['registered_models']} registered model(s) "
        f"with {counts['model_versions']} version(s) and {counts['registered_model_aliases']} alias(es), "
        f"{counts['files']} artifact file(s) into {artifacts}"
    )
