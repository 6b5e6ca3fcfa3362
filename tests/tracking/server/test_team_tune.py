"""``avsc tune`` as a team: two workers on one study in the server's PostgreSQL, runs in its MLflow server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_workers_share_a_study_on_the_team_server(team_server, features_workspace, tmp_path, monkeypatch):
    import mlflow
    import optuna

    from avsc.tracking.server.layout import read_pgpass_password
    from avsc.tracking.service import configure, normalize_db_url

    root = tmp_path / "repo"
    shutil.copytree(features_workspace, root)
    study = f"team-{uuid.uuid4().hex[:8]}"
    password = read_pgpass_password(team_server.pgpass, "avsc")
    assert password
    # one worker finds the password through PGPASSFILE, the other has it in its URL (which must never show)
    with_password = team_server.optuna_storage.replace("avsc@", f"avsc:{password}@")
    env = {
        **os.environ,
        **team_server.env(),
        "AVSC_ROOT": str(root),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("AVSC_MLFLOW_ARTIFACTS", None)
    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    procs = []
    for storage, log_path in zip((team_server.optuna_storage, with_password), logs):
        cmd = [sys.executable, "-m", "avsc", "tune", "--study-name", study, "--target", "visual"]
        cmd += ["--n-trials", "4", "--max-epochs", "1", "--storage", storage]
        procs.append(subprocess.Popen(cmd, cwd=root, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 600
    for proc, log_path in zip(procs, logs):
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"avsc tune did not finish:\n{log_path.read_text()[-3000:]}")
        assert proc.returncode == 0, log_path.read_text()[-4000:]
        assert password not in log_path.read_text()

    team_server.use(monkeypatch)
    trials = optuna.load_study(study_name=study, storage=normalize_db_url(team_server.optuna_storage)).trials
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 4 and len({t.number for t in finished}) == 4
    assert not [t for t in trials if t.state.name in ("RUNNING", "FAIL")]

    configure()
    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.optuna_study = '{study}'", output_format="list"
    )
    trial_runs = [r for r in runs if r.data.tags.get("stage") == "tune_trial"]
    assert sorted(int(r.data.tags["optuna_trial"]) for r in trial_runs) == sorted(t.number for t in finished)
    parents = [r for r in runs if r.data.tags.get("stage") == "tune"]
    assert len(parents) == 2 and {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {
        p.info.run_id for p in parents
    }
    for run in runs:
        assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
        values = [*run.data.params.values(), *run.data.tags.values()]
        assert not [v for v in values if password in v], run.info.run_id
