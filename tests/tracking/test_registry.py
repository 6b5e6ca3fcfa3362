"""Model Registry: what ``register`` records and the promotion gate of ``avsc promote``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from avsc.errors import AvscError
from avsc.tracking.registry import promote

NAME = "avsc-fused"


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
    info = json.loads((root / "reports" / "evaluate" / "run.json").read_text())
    assert tags["dataset_hash"] == manifest["dataset_hash"] == info["dataset_hash"]
    assert tags["data"] == "synthetic"
    assert tags["git_commit"]
    finetune_run = json.loads((root / "models" / "finetune" / "run.json").read_text())["run_id"]
    assert tags["source_run_finetune"] == finetune_run
    source_run = client.get_run(tags["source_run"])
    assert source_run.data.tags["stage"] == "register"
    assert source_run.data.metrics["logloss"] == pytest.approx(metrics["logloss"])
    register_json = json.loads((root / "reports" / "register.json").read_text())
    assert register_json["model_uri"] == f"models:/{NAME}@challenger"
    assert register_json["version"] == 1
    assert tags["system"] == "secrnn" and tags["final_head"] == "late"
    assert tags["n_segments"] == str(metrics["n_segments"]) and tags["n_skipped"] == "0"
    assert "secrnn" in version.description and "synthetic" in version.description.lower()
    assert f"{metrics['logloss']:.4f}" in version.description
    model_info = client.get_logged_model(version.model_id) if version.model_id else None
    info = __import__("mlflow").models.get_model_info(version.source)
    assert info.signature is not None
    assert info.signature.inputs.input_names() == ["video_b64", "audio_b64", "video", "audio", "clip"]
    assert info.saved_input_example_info is not None  # a small base64 MP4 a client can copy
    assert model_info is None or model_info.name == "model"
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
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
    assert "< champion" in tags["promotion_reason"]
    assert "not better" in client.get_model_version(NAME, worse).tags["promotion_refused"]

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
    code = (
        "import json, sys; from pathlib import Path; from avsc.tracking.registry import promote; "
        f"print(json.dumps(promote(model_name={NAME!r}, lock_dir=Path(sys.argv[1]))))"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(lock)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
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


def test_challenger_without_logloss_tag_is_refused_in_one_line(registry_store, tmp_path):
    client = _client()
    promote(model_name=NAME, lock_dir=tmp_path)
    challenger = _add_challenger(client, logloss=0.0)
    client.delete_model_version_tag(NAME, challenger, "logloss")
    result = promote(model_name=NAME, lock_dir=tmp_path)
    assert not result["promoted"] and "no finite evaluate log-loss" in result["reason"]
    with pytest.raises(AvscError, match="cannot promote"):
        promote(model_name=NAME, lock_dir=tmp_path, force=True)
    assert _champion(client) == "1"


def test_a_held_lock_is_a_one_line_error(registry_store, tmp_path, monkeypatch, capsys):
    from filelock import FileLock

    monkeypatch.setattr("avsc.tracking.registry.find_root", lambda: tmp_path)
    (tmp_path / "params.yaml").write_text("{}")
    monkeypatch.setenv("AVSC_ROOT", str(tmp_path))
    held = FileLock(str(tmp_path / "mlruns" / f".promote-{NAME}.lock"))
    (tmp_path / "mlruns").mkdir()
    with held:
        with pytest.raises(AvscError, match="held the lock"):
            promote(model_name=NAME, lock_timeout_s=0.2)
