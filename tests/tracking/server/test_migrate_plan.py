"""The pure rules of ``avsc store migrate``: URI rewriting, id mapping, conflicts, unknown tables."""

from __future__ import annotations

from pathlib import Path

from avsc.tracking.server.migrate_plan import (
    ExperimentMove,
    Plan,
    conflicts,
    local_folder,
    proxy_folder,
    proxy_location,
    rewrite,
    target_folder,
    transform,
    unsupported,
)

SHARED = "file:///home/me/avsc/mlruns/artifacts"  # avsc's local experiments share one artifact folder
DEST = Path("/srv/team/artifacts")


def _plan() -> Plan:
    plan = Plan(
        experiments=[
            ExperimentMove(
                source_id=1, name="avsc", target_id=7, source_location=SHARED, target_location="mlflow-artifacts:/7"
            ),
            ExperimentMove(
                source_id=2, name="tune", target_id=9, source_location=SHARED, target_location="mlflow-artifacts:/9"
            ),
        ]
    )
    plan.move_artifacts(f"{SHARED}/r1/artifacts", experiment_id=1, relative="r1/artifacts", destination=DEST)
    plan.move_artifacts(f"{SHARED}/r2/artifacts", experiment_id=2, relative="r2/artifacts", destination=DEST)
    plan.move_artifacts(
        f"{SHARED}/models/m-1/artifacts", experiment_id=1, relative="models/m-1/artifacts", destination=DEST
    )
    plan.move_artifacts("s3://bucket/r3/artifacts", experiment_id=1, relative="r3/artifacts", destination=DEST)
    return plan


def test_locations_and_folders(tmp_path):
    assert local_folder(f"{SHARED}/1") == Path("/home/me/avsc/mlruns/artifacts/1")
    assert local_folder("file:///with%20space/x") == Path("/with space/x")
    assert local_folder("/plain/path") == Path("/plain/path")
    assert local_folder("s3://bucket/x") is None and local_folder("mlflow-artifacts:/1") is None
    assert proxy_location(7) == "mlflow-artifacts:/7"
    assert proxy_folder("mlflow-artifacts:/7", tmp_path) == tmp_path / "7"
    assert target_folder("mlflow-artifacts:/7", tmp_path) == tmp_path / "7"
    assert target_folder("file:///srv/a/3", tmp_path) == Path("/srv/a/3")
    assert target_folder("s3://bucket/3", tmp_path) is None


def test_artifacts_move_per_run_into_their_target_experiment():
    plan = _plan()
    local = Path("/home/me/avsc/mlruns/artifacts")
    assert plan.copies == [
        (local / "r1" / "artifacts", DEST / "7" / "r1" / "artifacts"),
        (local / "r2" / "artifacts", DEST / "9" / "r2" / "artifacts"),  # same source folder, other experiment
        (local / "models" / "m-1" / "artifacts", DEST / "7" / "models" / "m-1" / "artifacts"),
    ]
    uris = plan.uris
    assert rewrite(f"{SHARED}/r1/artifacts", uris) == "mlflow-artifacts:/7/r1/artifacts"
    assert (
        rewrite("/home/me/avsc/mlruns/artifacts/r2/artifacts/x.png", uris) == "mlflow-artifacts:/9/r2/artifacts/x.png"
    )
    assert rewrite(f"{SHARED}/models/m-1/artifacts", uris) == "mlflow-artifacts:/7/models/m-1/artifacts"
    assert rewrite(f"{SHARED}/r10/artifacts", uris) == f"{SHARED}/r10/artifacts"  # r10 is not r1
    assert rewrite("s3://bucket/r3/artifacts", uris) == "s3://bucket/r3/artifacts"  # not local: left alone
    assert rewrite("models:/m-1", uris) == "models:/m-1"
    assert rewrite(0.5, uris) == 0.5 and rewrite(None, uris) is None
    assert not plan.refusals


def test_transform_maps_experiment_ids_and_datasets():
    plan = _plan()
    row = {"run_uuid": "r1", "experiment_id": 1, "artifact_uri": f"{SHARED}/r1/artifacts", "name": "train"}
    out = transform(row, table="runs", experiment_ids=plan.experiment_ids(), dataset_uuids={}, prefixes=plan.uris)
    assert out == {
        "run_uuid": "r1",
        "experiment_id": 7,
        "artifact_uri": "mlflow-artifacts:/7/r1/artifacts",
        "name": "train",
    }
    assert row["experiment_id"] == 1  # the source row is not changed
    tag = transform(
        {"key": "k", "value": "v", "experiment_id": "2"},
        table="experiment_tags",
        experiment_ids=plan.experiment_ids(),
        dataset_uuids={},
        prefixes={},
    )
    assert tag["experiment_id"] == "9"
    inp = {"source_type": "DATASET", "source_id": "d-src", "destination_type": "RUN", "destination_id": "r1"}
    out = transform(inp, table="inputs", experiment_ids={}, dataset_uuids={"d-src": "d-dst"}, prefixes={})
    assert out["source_id"] == "d-dst" and out["destination_id"] == "r1"


def test_conflicts_and_unsupported_tables():
    assert conflicts("run", ["a", "b"], ["c"], "runs") is None
    line = conflicts("run", ["a", "b", "c"], ["c", "b"], "runs")
    assert line == "the target already holds 2 of the runs (e.g. run b)"
    counts = {"runs": 3, "metrics": 10, "trace_info": 2, "alembic_version": 1, "workspaces": 1, "spans": 0}
    assert unsupported(counts) == ["trace_info"]
    assert unsupported({"registered_models": 1, "model_versions": 2}) == []
