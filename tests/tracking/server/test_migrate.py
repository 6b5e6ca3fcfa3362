"""``avsc store migrate`` for real: a SQLite store made with MLflow → the team server's PostgreSQL → read back
through the running ``mlflow server``."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MODEL = "mig-model"


def _local_store(store: Path) -> dict:
    """Two experiments, a pipeline parent with a nested run, a dataset, two versions with aliases."""
    import mlflow
    import pandas as pd

    from avsc.tracking.service import configure, ensure_experiment

    configure()

    class Double(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input):
            return model_input * 2

    client = mlflow.MlflowClient()
    exp_id = ensure_experiment("avsc")
    client.set_experiment_tag(exp_id, "team", "alone")
    other = client.create_experiment("mig-other", artifact_location=(store / "artifacts" / "other").as_uri())
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        report.write_text('{"logloss": 1.25}')
        with mlflow.start_run(experiment_id=exp_id, run_name="pipeline", tags={"stage": "pipeline"}) as parent:
            mlflow.log_metrics({"accuracy": 0.4375, "logloss": 1.25})
            mlflow.log_params({"profile": "default", "system": "secrnn"})
            with mlflow.start_run(experiment_id=exp_id, run_name="train_visual", nested=True) as child:
                for step in range(5):
                    mlflow.log_metric("val/loss", 2.0 - 0.3 * step, step=step)
                mlflow.log_param("learning_rate", "0.001")
                mlflow.set_tag("stage", "train_visual")
                mlflow.log_artifact(str(report), artifact_path="reports")
                mlflow.log_input(mlflow.data.from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), name="tiny"), context="train")
                v1 = mlflow.pyfunc.log_model(name="model", python_model=Double())
                v2 = mlflow.pyfunc.log_model(name="model2", python_model=Double())
        with mlflow.start_run(experiment_id=other, run_name="elsewhere") as lone:
            mlflow.log_metric("m", 3.0)
            mlflow.log_artifact(str(report))
    first = mlflow.register_model(v1.model_uri, MODEL, tags={"logloss": "1.300000"})
    second = mlflow.register_model(v2.model_uri, MODEL, tags={"logloss": "1.250000"})
    client.set_registered_model_alias(MODEL, "champion", second.version)
    client.set_registered_model_alias(MODEL, "challenger", first.version)
    client.set_registered_model_tag(MODEL, "owner", "me")
    runs = {r.info.run_id: r for r in client.search_runs([exp_id, other])}
    history = {
        rid: {k: [(m.step, m.timestamp, m.value) for m in client.get_metric_history(rid, k)] for k in r.data.metrics}
        for rid, r in runs.items()
    }
    return {
        "runs": runs,
        "history": history,
        "ids": (parent.info.run_id, child.info.run_id, lone.info.run_id),
        "model_ids": (v1.model_id, v2.model_id),
        "dataset_digest": runs[child.info.run_id].inputs.dataset_inputs[0].dataset.digest,
    }


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_migrate_keeps_ids_history_registry_and_artifacts(team_server, isolated_mlflow, monkeypatch, tools):
    import mlflow
    import pandas as pd

    from avsc.tracking.service import configure

    store = isolated_mlflow
    made = _local_store(store)
    db = store / "mlflow.db"
    before_db, before_files = hashlib.sha256(db.read_bytes()).hexdigest(), _tree(store / "artifacts")

    # the team already has an experiment "avsc": the migrated runs join it
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team_server.tracking_uri)
    configure()
    server = mlflow.MlflowClient()
    team_exp = server.get_experiment_by_name("avsc")
    team_exp_id = team_exp.experiment_id if team_exp else server.create_experiment("avsc")

    proc = tools.avsc(
        "store",
        "migrate",
        "--to",
        team_server.mlflow_db,
        "--from",
        f"sqlite:///{db}",
        "--dir",
        str(team_server.folder),
        env={"PGPASSFILE": ""},  # found through --dir
    )
    assert proc.returncode == 0, proc.stderr
    summary = proc.stdout.strip()
    assert summary.startswith(f"migrated sqlite:///{db} -> {team_server.mlflow_db}: 3 experiment(s) (1 new), 3 run(s)")
    assert "1 registered model(s) with 2 version(s) and 2 alias(es)" in summary
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before_db
    assert _tree(store / "artifacts") == before_files

    parent_id, child_id, lone_id = made["ids"]
    for run_id, source in made["runs"].items():
        got = server.get_run(run_id)
        assert got.data.params == source.data.params
        assert got.data.tags == source.data.tags
        assert got.data.metrics == source.data.metrics
        assert got.info.run_name == source.info.run_name and got.info.status == source.info.status
        assert (got.info.start_time, got.info.end_time) == (source.info.start_time, source.info.end_time)
        for key, points in made["history"][run_id].items():
            assert [(m.step, m.timestamp, m.value) for m in server.get_metric_history(run_id, key)] == points
    child = server.get_run(child_id)
    assert child.info.experiment_id == team_exp_id
    assert child.data.tags["mlflow.parentRunId"] == parent_id
    assert child.info.artifact_uri == f"mlflow-artifacts:/{team_exp_id}/{child_id}/artifacts"
    assert child.inputs.dataset_inputs[0].dataset.digest == made["dataset_digest"]
    with tempfile.TemporaryDirectory() as tmp:
        path = server.download_artifacts(child_id, "reports/report.json", tmp)
        assert Path(path).read_text() == '{"logloss": 1.25}'
    assert (team_server.artifacts / team_exp_id / child_id / "artifacts" / "reports" / "report.json").is_file()
    other = server.get_experiment_by_name("mig-other")
    assert other.artifact_location == f"mlflow-artifacts:/{other.experiment_id}"
    assert server.get_run(lone_id).info.experiment_id == other.experiment_id
    assert server.get_experiment(team_exp_id).tags.get("team") == "alone"  # a tag the team lacked

    model = server.get_registered_model(MODEL)
    assert model.aliases == {"champion": "2", "challenger": "1"} and model.tags == {"owner": "me"}
    assert server.get_model_version(MODEL, "1").tags == {"logloss": "1.300000"}
    assert server.get_model_version(MODEL, "2").run_id == child_id
    download = server.get_model_version_download_uri(MODEL, "2")
    assert download == f"mlflow-artifacts:/{team_exp_id}/models/{made['model_ids'][1]}/artifacts"
    logged = server.get_logged_model(made["model_ids"][1])
    assert logged.artifact_location == f"mlflow-artifacts:/{team_exp_id}/models/{made['model_ids'][1]}/artifacts"
    champion = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion")
    assert champion.predict(pd.DataFrame({"x": [1.5]}))["x"].tolist() == [3.0]

    again = tools.avsc(
        "store", "migrate", "--to", team_server.mlflow_db, "--from", f"sqlite:///{db}", "--dir", str(team_server.folder)
    )
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"avsc store: error: refusing to migrate into {team_server.mlflow_db}: the target already holds 3 of the "
        f"runs (e.g. run {sorted(made['ids'])[0]})"
    ]
