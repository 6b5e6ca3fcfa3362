"""The pure part of ``avsc store migrate``: which tables, how rows change on their way, what conflicts.

Rows keep their ids (run ids, logged-model ids, dataset and input uuids, registered model names
and version numbers). Only two things change: experiment ids, which are small integers of each
database (a source experiment joins the target's experiment of the same name, or gets a new id),
and local artifact URIs of runs and logged models, which move to where the server would have put
them in their (target) experiment: ``file:///…/mlruns/artifacts/<run>/artifacts`` →
``mlflow-artifacts:/7/<run>/artifacts``, ``…/models/<model id>/artifacts`` →
``mlflow-artifacts:/7/models/<model id>/artifacts``. Any other value that starts with one of those
URIs (a model version's storage location, a tag) is rewritten the same way. Per run, not per
experiment folder: avsc's local experiments share one artifact folder (``mlruns/artifacts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

#: Tables copied, parents before children. ``experiments`` is written separately (ids change).
TABLES = (
    "experiment_tags",
    "runs",
    "params",
    "tags",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "logged_models",
    "logged_model_params",
    "logged_model_tags",
    "logged_model_metrics",
    "registered_models",
    "registered_model_tags",
    "model_versions",
    "model_version_tags",
    "registered_model_aliases",
)
REGISTRY_TABLES = frozenset(
    {"registered_models", "registered_model_tags", "model_versions", "model_version_tags", "registered_model_aliases"}
)
#: Tables whose content belongs to the database, not to the history that moves (schema version,
#: workspaces, job queues and leases of a server).
IGNORED = frozenset({"alembic_version", "workspaces", "jobs", "job_locks", "scheduler_leases"})

#: The artifact URI scheme of a tracking server with proxied artifacts (``--serve-artifacts``).
PROXY_SCHEME = "mlflow-artifacts:"


def local_folder(location: str) -> Path | None:
    """The local folder of an artifact location (``file://`` URI or absolute path), else ``None``."""
    if location.startswith("file:"):
        return Path(unquote(urlsplit(location).path))
    if location.startswith("/"):
        return Path(location)
    return None


def proxy_location(experiment_id: int | str) -> str:
    """What a proxied-artifact server gives a new experiment (``mlflow-artifacts:/<id>``)."""
    return f"{PROXY_SCHEME}/{experiment_id}"


def proxy_folder(location: str, destination: Path) -> Path | None:
    """Where a ``mlflow-artifacts:/…`` location lives under the server's artifact destination."""
    if not location.startswith(PROXY_SCHEME):
        return None
    return destination / location.removeprefix(PROXY_SCHEME).lstrip("/")


def target_folder(location: str, destination: Path) -> Path | None:
    """The folder behind a target experiment's artifact location (proxied or local), else ``None``."""
    return proxy_folder(location, destination) or local_folder(location)


def rewrite(value: Any, prefixes: Mapping[str, str]) -> Any:
    """``value`` with a leading source artifact location replaced by its target (longest match first)."""
    if not isinstance(value, str):
        return value
    for src in sorted(prefixes, key=len, reverse=True):
        if value == src or value.startswith(src.rstrip("/") + "/"):
            return prefixes[src] + value[len(src) :]
    return value


@dataclass
class ExperimentMove:
    """One source experiment: the target experiment it becomes or joins."""

    source_id: int
    name: str
    target_id: int | None = None  # None: a new experiment (id known after the insert)
    source_location: str = ""
    target_location: str | None = None


@dataclass
class Plan:
    """What the migration does; ``refusals`` stop it before anything is written."""

    experiments: list[ExperimentMove] = field(default_factory=list)
    dataset_uuids: dict[str, str] = field(default_factory=dict)  # source uuid -> target's uuid of the same dataset
    uris: dict[str, str] = field(default_factory=dict)  # source artifact URI -> target artifact URI
    copies: list[tuple[Path, Path]] = field(default_factory=list)  # artifact folders: source -> target
    refusals: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def experiment_ids(self) -> dict[int, int]:
        return {m.source_id: int(m.target_id) for m in self.experiments if m.target_id is not None}

    def target_location(self, source_experiment: int) -> str | None:
        return next((m.target_location for m in self.experiments if m.source_id == source_experiment), None)

    def move_artifacts(self, uri: str | None, *, experiment_id: int, relative: str, destination: Path) -> None:
        """Plan the move of one run's or logged model's local artifact folder (``relative`` in the experiment)."""
        folder = local_folder(uri or "")
        location = self.target_location(experiment_id)
        if uri is None or folder is None or location is None:
            return
        new = f"{location.rstrip('/')}/{relative}"
        target = target_folder(new, destination)
        if target is None:
            self.refusals.append(f"experiment {experiment_id}: cannot write artifacts to {location!r}")
            return
        for old in (uri, folder.as_uri(), str(folder)):  # as stored, file:// and plain path alike
            self.uris[old] = new
        self.copies.append((folder, target))


def conflicts(
    name: str, source_keys: Iterable[Any], target_keys: Iterable[Any], what: str, hint: str = ""
) -> str | None:
    """One line when ``source_keys`` and ``target_keys`` overlap."""
    common = sorted(set(source_keys) & set(target_keys), key=str)
    if not common:
        return None
    return f"the target already holds {len(common)} of the {what} (e.g. {name} {common[0]}){hint}"


def unsupported(row_counts: Mapping[str, int]) -> list[str]:
    """Source tables with rows that the migration does not know how to copy (``--no-registry`` skips the
    registry tables on purpose: they are known)."""
    known = set(TABLES) | {"experiments"} | IGNORED
    return sorted(t for t, n in row_counts.items() if n and t not in known)


def transform(
    row: Mapping[str, Any],
    *,
    table: str,
    experiment_ids: Mapping[int, int],
    dataset_uuids: Mapping[str, str],
    prefixes: Mapping[str, str],
) -> dict[str, Any]:
    """A source row as the target gets it: experiment ids mapped, dataset uuids deduplicated, URIs rewritten."""
    out = {key: rewrite(value, prefixes) for key, value in row.items()}
    if out.get("experiment_id") is not None:
        source = int(out["experiment_id"])
        mapped = experiment_ids[source]
        out["experiment_id"] = str(mapped) if isinstance(row["experiment_id"], str) else mapped
    if table == "inputs" and out.get("source_type") == "DATASET":
        out["source_id"] = dataset_uuids.get(out["source_id"], out["source_id"])
    if table == "logged_model_metrics" and out.get("dataset_uuid"):
        out["dataset_uuid"] = dataset_uuids.get(out["dataset_uuid"], out["dataset_uuid"])
    return out
