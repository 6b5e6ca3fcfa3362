"""The avsc pipeline's own commands with ``MLFLOW_TRACKING_URI`` on the team server: train, evaluate,
register, promote, predict — runs, models and artifacts all go through the server."""

from __future__ import annotations

import json
import os
import shutil

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_stages_register_promote_and_predict_through_the_server(
    team_server, trained_workspace, tmp_path, monkeypatch, tools
):
    import mlflow

    from avsc.tracking.service import configure

    root = tmp_path / "repo"
    shutil.copytree(trained_workspace.root, root)
    local_artifacts = tmp_path / "local-artifacts"  # AVSC_MLFLOW_ARTIFACTS: ignored with a server
    env = {
        **team_server.env(),
        "AVSC_ROOT": str(root),
        "AVSC_PIPELINE_RUN": "team-pipeline-test",
        "AVSC_MLFLOW_ARTIFACTS": str(local_artifacts),
    }
    for argv in (["train", "finetune"], ["evaluate"], ["register"], ["promote"]):
        proc = tools.avsc(*argv, env=env, cwd=root, timeout=900)
        assert proc.returncode == 0, f"avsc {' '.join(argv)}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        if argv == ["promote"]:
            assert proc.stdout.strip() == (
                "avsc-fused version 1 is now @champion (no champion yet: the first challenger becomes champion)"
            )
    video = sorted((root / "data" / "tau-synthetic" / "video").glob("*.mp4"))[0]
    proc = tools.avsc(
        "predict", "--video", str(video), "--model", "models:/avsc-fused@champion", "--json", env=env, cwd=root
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(json.loads(proc.stdout)["seconds"]) == 3

    team_server.use(monkeypatch)
    configure()
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("avsc")
    runs = client.search_runs([exp.experiment_id], "tags.pipeline_run = 'team-pipeline-test'")
    by_stage = {r.data.tags["stage"]: r for r in runs}
    assert set(by_stage) == {"pipeline", "finetune", "evaluate", "register"}
    parent = by_stage["pipeline"]
    metrics = json.loads((root / "reports" / "evaluate" / "metrics.json").read_text())
    assert parent.data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert parent.data.metrics["logloss"] == pytest.approx(metrics["logloss"])
    assert parent.info.status == "FINISHED"
    for stage in ("finetune", "evaluate", "register"):
        run = by_stage[stage]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.info.artifact_uri == f"mlflow-artifacts:/{exp.experiment_id}/{run.info.run_id}/artifacts"
    finetune_dir = team_server.artifacts / exp.experiment_id / by_stage["finetune"].info.run_id / "artifacts"
    assert (finetune_dir / "curves.png").is_file() and (finetune_dir / "history.json").is_file()

    champion = client.get_model_version_by_alias("avsc-fused", "champion")
    assert champion.tags["source_run"] == by_stage["register"].info.run_id
    assert champion.tags["promotion_reason"] == "no champion yet: the first challenger becomes champion"
    model_dir = team_server.artifacts / exp.experiment_id / "models" / champion.source.removeprefix("models:/")
    assert (model_dir / "artifacts" / "MLmodel").is_file()
    assert not local_artifacts.exists() or not any(local_artifacts.rglob("*"))
    assert not (root / "mlruns" / "artifacts").exists()
    assert os.listdir(team_server.artifacts)  # everything went to the server's artifact destination
