"""Two ``avsc promote`` processes on two "machines" (no shared lock) against one real MLflow server.

The dangerous interleaving is forced: one process reads the champion, then waits before moving the
alias until the other has promoted and exited, so its write lands on top of a better model. The
settling step of the late writer must put the better model back and record what happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

NAME = "avsc-fused"
TAGS = {
    "system": "secrnn",
    "data": "synthetic",
    "dataset_hash": "d" * 32,
    "n_segments": "120",
    "n_skipped": "0",
    "final_head": "late",
}

#: A promote process; with a gate, it stops just before moving the alias until the gate file exists.
CODE = """
import json, sys, time
from pathlib import Path
import mlflow
from avsc.tracking.registry import promote

version, lock_dir, gate = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
if gate:
    real = mlflow.MlflowClient.set_registered_model_alias

    def gated(self, *args, **kwargs):
        Path(gate + ".reached").touch()
        while not Path(gate).exists():
            time.sleep(0.05)
        return real(self, *args, **kwargs)

    mlflow.MlflowClient.set_registered_model_alias = gated
print(json.dumps(promote(model_name="avsc-fused", version=version, lock_dir=lock_dir)))
"""


def _versions(client) -> list[str]:
    client.create_registered_model(NAME)
    run = client.create_run(client.create_experiment("promote-race"))
    made = []
    for logloss in (1.0, 0.8, 0.6):  # version 1 champion, 2 better, 3 best
        version = client.create_model_version(
            NAME, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id, tags=TAGS | {"logloss": str(logloss)}
        )
        made.append(str(version.version))
    client.set_registered_model_alias(NAME, "champion", made[0])
    return made


def _start(version: str, lock_dir: Path, gate: Path | None, env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CODE, version, str(lock_dir), str(gate or "")],
        env=env,
        cwd=lock_dir,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def _result(proc: subprocess.Popen, log: Path) -> dict:
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, log.read_text()[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def _wait_for(path: Path, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{path.name} not reached"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("late", ["worse", "better"])
def test_concurrent_promotions_through_a_server_end_on_the_best_model(mlflow_server, tmp_path, monkeypatch, late):
    """``late`` is the version whose alias move lands last, on top of the other's promotion."""
    import mlflow

    port, _ = mlflow_server
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient()
    v1, v2, v3 = _versions(client)
    slow, fast = (v2, v3) if late == "worse" else (v3, v2)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "TF_CPP_MIN_LOG_LEVEL": "3"}
    machines = {v: tmp_path / f"machine-{v}" for v in (slow, fast)}  # separate lock folders: no shared lock
    for folder in machines.values():
        folder.mkdir()
    gate = tmp_path / "gate"
    logs = {v: tmp_path / f"promote-{v}.log" for v in (slow, fast)}

    late_proc = _start(slow, machines[slow], gate, env, logs[slow])
    _wait_for(Path(f"{gate}.reached"), late_proc, logs[slow])  # it has read champion v1 and decided
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v1
    first = _result(_start(fast, machines[fast], None, env, logs[fast]), logs[fast])
    assert first["previous_champion"] == int(v1)
    if late == "worse":
        assert first["promoted"] and first["champion"] == v3
    else:  # v3 has claimed its promotion and is better: v2's settling already made it champion
        assert not first["promoted"] and f"superseded by version {v3}" in first["reason"]
        assert first["champion"] == v3
    assert str(client.get_model_version_by_alias(NAME, "champion").version) == v3
    gate.touch()  # now the late write lands on top of the other's promotion
    second = _result(late_proc, logs[slow])
    assert second["previous_champion"] == int(v1)  # it decided against v1: a stale decision

    registered = client.get_registered_model(NAME)
    assert str(registered.aliases["champion"]) == v3  # the best model, whatever the order
    assert second["champion"] == v3
    tags = {v: client.get_model_version(NAME, v).tags for v in (v1, v2, v3)}
    for v in (v2, v3):
        assert "promotion_claimed_at" in tags[v] and "promotion_reason" in tags[v]
    if late == "worse":
        assert not second["promoted"] and f"superseded by version {v3}" in second["reason"]
        assert tags[v3]["promotion_reason"].startswith("settled: ")
        assert f"promotion of version {v2}" in tags[v3]["promotion_reason"]
        assert tags[v3]["previous_champion"] == v2
        assert f"version {v3} is better" in tags[v2]["promotion_superseded"]
        assert "settled" in logs[slow].read_text() or "concurrent promotion" in logs[slow].read_text()
    else:
        assert second["promoted"] and second["version"] == int(v3)
        assert "promotion_superseded" not in tags[v3]
        assert f"version {v3} is better" in tags[v2]["promotion_superseded"]
    assert tags[v1]["logloss"] == "1.0"  # untouched model
