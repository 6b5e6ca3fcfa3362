"""The writing part of ``avsc store migrate``: rows in one target transaction, then the artifact files.

Everything happens inside the transaction: when a row, a file or the commit fails, the
transaction rolls back and the files and folders created so far are removed again, so the
target is either untouched or holds the whole copy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from avsc.errors import AvscError
from avsc.tracking.server.migrate_plan import Plan, local_folder, proxy_location, transform

log = logging.getLogger(__name__)

CHUNK = 2000


def row_counts(engine) -> dict[str, int]:
    """Rows per table of a database."""
    from sqlalchemy import MetaData, func, select

    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for name, t in meta.tables.items()
        }


def rows(engine, table: str, columns: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """All rows of ``table`` (or some columns) as dicts; ``[]`` when the table does not exist."""
    from sqlalchemy import MetaData, select

    meta = MetaData()
    try:
        meta.reflect(engine, only=[table])
    except Exception:  # the table does not exist in this database
        return []
    t = meta.tables[table]
    query = select(*(t.c[c] for c in columns)) if columns else select(t)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _coerce(row: dict[str, Any], table) -> dict[str, Any]:
    """Values as the target's column types want them (SQLite keeps booleans as 0/1)."""
    from sqlalchemy import Boolean

    out = {}
    for key, value in row.items():
        column = table.c.get(key)
        if column is not None:
            out[key] = bool(value) if value is not None and isinstance(column.type, Boolean) else value
    return out


class CreatedFiles:
    """Files and folders made by the copy, to remove them again when it fails."""

    def __init__(self) -> None:
        self.files: list[Path] = []
        self.dirs: list[Path] = []

    def makedirs(self, path: Path) -> None:
        missing = []
        while not path.exists():
            missing.append(path)
            path = path.parent
        for folder in reversed(missing):
            folder.mkdir()
            self.dirs.append(folder)

    def undo(self) -> None:
        for path in reversed(self.files):
            path.unlink(missing_ok=True)
        for folder in reversed(self.dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()


def _walk(folder: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            yield Path(dirpath) / name


def _copy_artifacts(plan: Plan, created: CreatedFiles) -> int:
    pairs = []
    for source, target in plan.copies:
        if not source.is_dir():
            continue  # a run that logged no artifact
        for src in _walk(source):
            dst = target / src.relative_to(source)
            if dst.exists():
                raise AvscError(f"refusing to migrate: {dst} already exists in the artifact destination")
            pairs.append((src, dst))
    for src, dst in pairs:
        created.makedirs(dst.parent)
        shutil.copy2(src, dst)
        created.files.append(dst)
    return len(pairs)


def _insert_experiments(conn, table, source_rows: list[dict], plan: Plan, destination: Path) -> int:
    """Insert the source experiments the target lacks; fill in their target ids and folders."""
    from sqlalchemy import insert, update

    by_id = {int(r["experiment_id"]): r for r in source_rows}
    new = 0
    for move in plan.experiments:
        if move.target_id is not None:
            continue
        row = {k: v for k, v in by_id[move.source_id].items() if k != "experiment_id"}
        keep_location = local_folder(move.source_location) is None  # not a local folder: the URI stays
        row["artifact_location"] = move.source_location if keep_location else ""
        new_id = conn.execute(insert(table).returning(table.c.experiment_id), [_coerce(row, table)]).scalar_one()
        move.target_id = int(new_id)
        if not keep_location:
            move.target_location = proxy_location(new_id)
            conn.execute(
                update(table).where(table.c.experiment_id == new_id).values(artifact_location=move.target_location)
            )
        new += 1
    return new


def _plan_artifacts(read, meta, plan: Plan, destination: Path) -> None:
    """Where each run's and logged model's local artifacts go (see :mod:`.migrate_plan`)."""
    from sqlalchemy import select

    runs = meta.tables["runs"]
    for run_id, exp_id, uri in read.execute(select(runs.c.run_uuid, runs.c.experiment_id, runs.c.artifact_uri)):
        plan.move_artifacts(uri, experiment_id=int(exp_id), relative=f"{run_id}/artifacts", destination=destination)
    models = meta.tables.get("logged_models")
    if models is not None:
        query = select(models.c.model_id, models.c.experiment_id, models.c.artifact_location)
        for model_id, exp_id, uri in read.execute(query):
            plan.move_artifacts(
                uri, experiment_id=int(exp_id), relative=f"models/{model_id}/artifacts", destination=destination
            )


def execute(src, dst, plan: Plan, *, tables: list[str], destination: Path) -> dict[str, Any]:
    """Copy ``tables`` from ``src`` to ``dst`` following ``plan``; return counts per table and files."""
    from sqlalchemy import MetaData, insert, select

    src_meta, dst_meta = MetaData(), MetaData()
    src_meta.reflect(src)
    dst_meta.reflect(dst, only=["experiments", *tables])
    created = CreatedFiles()
    counts: dict[str, Any] = {t: 0 for t in tables}
    try:
        with dst.begin() as conn, src.connect() as read:
            experiments = [dict(r) for r in read.execute(select(src_meta.tables["experiments"])).mappings()]
            counts["new_experiments"] = _insert_experiments(
                conn, dst_meta.tables["experiments"], experiments, plan, destination
            )
            counts["experiments"] = len(experiments)
            _plan_artifacts(read, src_meta, plan, destination)
            if plan.refusals:
                raise AvscError(f"refusing to migrate: {plan.refusals[0]}")
            ids, prefixes = plan.experiment_ids(), plan.uris
            tag_table = dst_meta.tables["experiment_tags"]
            existing_tags = {(int(e), k) for e, k in conn.execute(select(tag_table.c.experiment_id, tag_table.c.key))}
            ds_table = dst_meta.tables["datasets"]
            existing_ds = {
                (int(r.experiment_id), r.name, r.digest): r.dataset_uuid for r in conn.execute(select(ds_table))
            }
            for table in tables:
                if table not in src_meta.tables:
                    continue
                target = dst_meta.tables[table]
                result = read.execution_options(stream_results=True).execute(select(src_meta.tables[table]))
                for chunk in result.mappings().partitions(CHUNK):
                    batch = []
                    for raw in chunk:
                        row = transform(
                            raw, table=table, experiment_ids=ids, dataset_uuids=plan.dataset_uuids, prefixes=prefixes
                        )
                        if table == "experiment_tags" and (int(row["experiment_id"]), row["key"]) in existing_tags:
                            continue  # a joined experiment keeps the target's own tag values
                        if table == "datasets":
                            same = existing_ds.get((int(row["experiment_id"]), row["name"], row["digest"]))
                            if same is not None:  # the target already knows this dataset: reuse its uuid
                                plan.dataset_uuids[raw["dataset_uuid"]] = same
                                continue
                        batch.append(_coerce(row, target))
                    if batch:
                        conn.execute(insert(target), batch)
                        counts[table] += len(batch)
            counts["files"] = _copy_artifacts(plan, created)
    except BaseException:
        created.undo()
        raise
    return counts
