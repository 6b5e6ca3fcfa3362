"""Where MLflow's store and artifacts are: local stores versus a tracking server."""

from __future__ import annotations

import json

import pytest

from avsc.tracking import service


def test_artifact_root_of_a_local_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.delenv("AVSC_MLFLOW_ARTIFACTS")
    assert service.artifact_root() == (tmp_path / "artifacts").as_uri()
    monkeypatch.setenv("AVSC_MLFLOW_ARTIFACTS", str(tmp_path / "elsewhere"))
    assert service.artifact_root() == (tmp_path / "elsewhere").as_uri()


@pytest.mark.parametrize("uri", ["http://127.0.0.1:5000", "https://mlflow.team.example"])
def test_a_tracking_server_decides_artifact_locations(uri, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("AVSC_MLFLOW_ARTIFACTS", str(tmp_path))  # ignored: the server's clients are on other machines
    assert service.is_server(uri)
    assert service.artifact_root() is None


def test_configure_uses_the_installed_postgres_driver(monkeypatch):
    import importlib.util

    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://avsc@127.0.0.1:1/mlflow")
    uri = service.configure()
    expected = "postgresql+psycopg2://" if importlib.util.find_spec("psycopg") is None else "postgresql://"
    assert uri.startswith(expected) and mlflow.get_tracking_uri() == uri


def test_experiment_gets_the_pipeline_view(tmp_path):
    import mlflow

    exp_id = service.ensure_experiment("avsc-view")
    tags = mlflow.MlflowClient().get_experiment(exp_id).tags
    view = json.loads(tags[service.PIPELINE_VIEW_TAG])
    assert {"metrics.`accuracy`", "metrics.`logloss`"} <= set(view["selectedColumns"])
    assert tags[service.EXPERIMENT_KIND_TAG] == service.EXPERIMENT_KIND
    client = mlflow.MlflowClient()
    client.set_experiment_tag(exp_id, service.PIPELINE_VIEW_TAG, "{}")  # an old view is brought up to date
    client.set_experiment_tag(exp_id, service.EXPERIMENT_KIND_TAG, "genai_development")  # a user's choice stays
    service.ensure_experiment("avsc-view")
    tags = client.get_experiment(exp_id).tags
    assert tags[service.PIPELINE_VIEW_TAG] == service.PIPELINE_VIEW
    assert tags[service.EXPERIMENT_KIND_TAG] == "genai_development"
    url = service.pipeline_view_url("http://127.0.0.1:5000/", exp_id)
    assert url == f"http://127.0.0.1:5000/#/experiments/{exp_id}/runs?viewStateShareKey=avsc-pipelines"
