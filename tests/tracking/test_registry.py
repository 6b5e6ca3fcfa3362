"""Model Registry: what ``register`` records and the promotion gate of ``avsc promote``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from avsc.tracking.registry import decide, promote

NAME = "avsc-fused"


# --- decide(): pure ---------------------------------------------------------------------------

def test_decide_without_champion_promotes():
    ok, reason = decide({"logloss": "2.0", "dataset_hash": "a"}, None)
    assert ok and "no champion" in reason


def test_decide_lower_logloss_promotes():
    ok, reason = decide({"logloss": "1.5", "dataset_hash": "a"}, {"logloss": "2.0", "dataset_hash": "a"})
    assert ok
    assert "1.5000" in reason and "2.0000" in reason


@pytest.mark.parametrize("new", ["2.0", "2.5"])
def test_decide_equal_or_higher_logloss_refuses(new):
    ok, reason = decide({"logloss": new, "dataset_hash": "a"}, {"logloss": "2.0", "dataset_hash": "a"})
    assert not ok
    assert "not better" in reason


def test_decide_other_dataset_refuses_even_when_better():
    ok, reason = decide({"logloss": "0.1", "dataset_hash": "aaaaaaaaaaaaaaaa"},
                        {"logloss": "2.0", "dataset_hash": "bbbbbbbbbbbbbbbb"})
    assert not ok
    assert "not comparable" in reason and "aaaaaaaaaaaa" in reason and "bbbbbbbbbbbb" in reason


# --- the real registry ------------------------------------------------------------------------

def _client():
    import mlflow

    from avsc.tracking.service import configure

    configure()
    return mlflow.MlflowClient()


def _add_challenger(client, *, logloss: float, dataset_hash: str | None = None) -> str:
    """A new version from the same artifacts as version 1, with another log-loss tag, made @challenger."""
    v1 = client.get_model_version(NAME, "1")
    tags = dict(v1.tags)
    tags["logloss"] = f"{logloss:.6f}"
    if dataset_hash is not None:
        tags["dataset_hash"] = dataset_hash
    version = client.create_model_version(NAME, source=v1.source, run_id=v1.run_id, tags=tags)
    client.set_registered_model_alias(NAME, "challenger", version.version)
    return str(version.version)


def _champion(client) -> str:
    return str(client.get_model_version_by_alias(NAME, "champion").version)


def test_register_records_metrics_lineage_and_challenger(trained_workspace, registry_store):
    client = _client()
    root = trained_workspace.root
    version = client.get_model_version_by_alias(NAME, "challenger")
    assert str(version.version) == "1" == str(trained_workspace.register["version"])
    metrics = json.loads((root / "reports" / "evaluate" / "metrics.json").read_text())
    manifest = json.loads((root / "data" / "manifest.json").read_text())
    tags = version.tags
    assert float(tags["logloss"]) == pytest.approx(metrics["logloss"], abs=1e-6)
    assert float(tags["accuracy"]) == pytest.approx(metrics["accuracy"], abs=1e-6)
    assert tags["dataset_hash"] == manifest["dataset_hash"] == metrics["dataset_hash"]
    assert tags["data"] == "synthetic"
    assert tags["git_commit"]
    finetune_run = json.loads((root / "models" / "finetune" / "metrics.json").read_text())["run_id"]
    assert tags["source_run_finetune"] == finetune_run
    source_run = client.get_run(tags["source_run"])
    assert source_run.data.tags["stage"] == "register"
    assert source_run.data.metrics["logloss"] == pytest.approx(metrics["logloss"])
    register_json = json.loads((root / "reports" / "register.json").read_text())
    assert register_json["model_uri"] == f"models:/{NAME}@challenger"
    assert register_json["version"] == 1
    with pytest.raises(Exception):
        client.get_model_version_by_alias(NAME, "champion")


def test_promotion_gate(registry_store, tmp_path):
    client = _client()
    lock = tmp_path / "lock"
    v1 = client.get_model_version(NAME, "1")
    base = float(v1.tags["logloss"])

    first = promote(model_name=NAME, lock_dir=lock)
    assert first["promoted"] and first["version"] == 1 and first["previous_champion"] is None
    assert _champion(client) == "1"
    again = promote(model_name=NAME, lock_dir=lock)
    assert not again["promoted"] and "already @champion" in again["reason"]

    worse = _add_challenger(client, logloss=base + 0.5)
    result = promote(model_name=NAME, lock_dir=lock)
    assert not result["promoted"] and "not better" in result["reason"]
    assert _champion(client) == "1"

    better = _add_challenger(client, logloss=base - 0.5)
    result = promote(model_name=NAME, lock_dir=lock)
    assert result["promoted"] and result["version"] == int(better) and result["previous_champion"] == 1
    assert _champion(client) == better
    tags = client.get_model_version(NAME, better).tags
    assert tags["previous_champion"] == "1" and "promoted_at" in tags
    assert "promoted_by_force" not in tags

    other = _add_challenger(client, logloss=base - 2.0, dataset_hash="0" * 32)
    result = promote(model_name=NAME, lock_dir=lock)
    assert not result["promoted"] and "not comparable" in result["reason"]
    assert _champion(client) == better
    assert worse != better != other


def test_force_promotes_and_is_recorded(registry_store, tmp_path):
    client = _client()
    lock = tmp_path / "lock"
    promote(model_name=NAME, lock_dir=lock)
    worse = _add_challenger(client, logloss=float(client.get_model_version(NAME, "1").tags["logloss"]) + 1.0)
    result = promote(model_name=NAME, lock_dir=lock, force=True)
    assert result["promoted"] and result["reason"].startswith("forced: ")
    assert _champion(client) == worse
    tags = client.get_model_version(NAME, worse).tags
    assert tags["promoted_by_force"] == "true"
    assert "not better" in tags["force_reason"]
    assert "promoted_by_force" not in client.get_model_version(NAME, "1").tags


def test_cli_promote_prints_the_decision(trained_workspace, registry_store, tmp_path, monkeypatch, capsys):
    from avsc.cli import main

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "params.yaml").write_text((trained_workspace.root / "params.yaml").read_text())
    monkeypatch.setenv("AVSC_ROOT", str(repo))
    assert main(["promote"]) == 0
    out = capsys.readouterr().out
    assert f"{NAME} version 1 is now @champion" in out
    client = _client()
    _add_challenger(client, logloss=float(client.get_model_version(NAME, "1").tags["logloss"]) + 0.25)
    assert main(["promote"]) == 0
    out = capsys.readouterr().out
    assert "@champion unchanged" in out and "not better" in out
    assert _champion(client) == "1"
    assert main(["promote", "--force"]) == 0
    assert "forced" in capsys.readouterr().out
    assert _champion(client) == "2"
    assert client.get_model_version(NAME, "2").tags["promoted_by_force"] == "true"
    assert (repo / "mlruns" / f".promote-{NAME}.lock").exists()


def test_concurrent_promotions_leave_exactly_one_champion(registry_store, tmp_path):
    """Five processes promote at once: no error, exactly one of them moves @champion."""
    client = _client()
    better = _add_challenger(client, logloss=float(client.get_model_version(NAME, "1").tags["logloss"]) - 0.1)
    lock = tmp_path / "lock"
    code = ("import json, sys; from pathlib import Path; from avsc.tracking.registry import promote; "
            f"print(json.dumps(promote(model_name={NAME!r}, lock_dir=Path(sys.argv[1]))))")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(lock)], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["promoted"] for r in results) == 1
    assert all(r["version"] == int(better) for r in results)
    registered = client.get_registered_model(NAME)
    assert str(registered.aliases["champion"]) == better
    assert list(registered.aliases).count("champion") == 1
    assert str(client.get_model_version(NAME, better).version) == better
