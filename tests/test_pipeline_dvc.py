"""``dvc repro`` of the first stages in a throw-away git + DVC repository on the synthetic clips.

Checks what the pipeline promises: a second run does nothing, a changed WAV re-runs exactly the
stages that depend on it, and a training param does not make the feature stages stale.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
OVERRIDES = {
    "base": {"seed": 3},
    "data": {
        "synthetic": {
            "clips_per_class": 2,
            "duration_s": 1.0,
            "cities": 2,
            "video_width": 16,
            "video_height": 16,
            "video_fps": 2,
        }
    },
    "features": {
        "workers": 2,
        "visual": {s: {"image_size": 32, "batch_size": 50} for s in ("secrnn", "dualstream", "joint")},
    },
    "train_audio": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "train_visual": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "train_fusion": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "finetune": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "validate": {"duration_s": 3.0},
}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


STAGES = ("prepare", "validate", "features_audio")


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("AVSC_ROOT", "AVSC_PIPELINE_RUN")}
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "DVC_NO_ANALYTICS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
        }
    )
    return env


def _runner(root: Path, env: dict):
    def run(*cmd: str, check: bool = True) -> str:
        proc = subprocess.run(list(cmd), cwd=root, env=env, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}")
        return out

    return run


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, synthetic_dataset):
    """A git + DVC repository after its first ``dvc repro`` of STAGES, and what that repro printed.

    The dataset is a user's folder beside the repository (``data.root: ../tau``, outside it as with
    ``avsc data add --reference``), so the pair can be copied for each test and stays up to date.
    """
    if not (BIN / "dvc").exists():
        pytest.skip(f"{BIN / 'dvc'} not installed")
    base = tmp_path_factory.mktemp("dvcrepo")
    root = base / "repo"
    root.mkdir()
    shutil.copytree(REPO / "pipelines", root / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src" / "avsc", root / "src" / "avsc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    shutil.copytree(synthetic_dataset, base / "tau")
    params = _merge(yaml.safe_load((REPO / "params.yaml").read_text()), OVERRIDES)
    params["data"]["root"] = "../tau"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    store = tmp_path_factory.mktemp("mlruns")
    run = _runner(root, {**_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{store}/mlflow.db"})
    run("git", "init", "-q")
    run(str(BIN / "dvc"), "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "init")
    first = run(str(BIN / "dvc"), "repro", *STAGES)
    return base, first


@pytest.fixture
def dvc_repo(reproduced, tmp_path, isolated_mlflow):
    """A private copy of :func:`reproduced` (repository and dataset); ``dvc`` runs DVC in it."""
    base, first = reproduced
    shutil.copytree(base, tmp_path / "w", symlinks=True)
    root = tmp_path / "w" / "repo"
    run = _runner(root, _env())
    return root, lambda *args, **kw: run(str(BIN / "dvc"), *args, **kw), first


def test_repro_skips_reruns_and_tracks_changes(dvc_repo):
    root, dvc, out = dvc_repo  # out: what the first `dvc repro` printed
    stages = STAGES

    for stage in stages:
        assert f"Running stage '{stage}'" in out, out
    assert (root / "data" / "manifest.json").is_file()
    assert (root / "reports" / "validation" / "validation.json").is_file()
    assert any((root / "data" / "features" / "audio").iterdir())
    assert (root / "dvc.lock").is_file()

    out = dvc("repro", *stages)
    assert "Running stage" not in out, out
    for stage in stages:
        assert f"Stage '{stage}' didn't change, skipping" in out, out
    assert "up to date" in dvc("status", *stages)

    # a WAV with different samples: prepare (and everything after it) is stale
    wav = sorted((root.parent / "tau" / "audio").glob("*.wav"))[0]
    data, sr = sf.read(wav, always_2d=True)
    sf.write(wav, np.clip(data * 0.9 + 1e-3, -1, 1), sr, subtype="PCM_24")
    status = dvc("status", *stages)
    assert "prepare:" in status and "modified:" in status, status
    out = dvc("repro", *stages)
    for stage in stages:
        assert f"Running stage '{stage}'" in out, out
    assert "up to date" in dvc("status", *stages)

    # a training param leaves the feature stages up to date
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train_audio"]["epochs"] = 2
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    assert "up to date" in dvc("status", *stages)
    train_status = dvc("status", "train_audio", check=False)
    assert "train_audio" in train_status


def test_switching_systems_reruns_only_what_depends_on_it_and_restores_from_the_run_cache(dvc_repo):
    root, dvc, _ = dvc_repo
    stages = STAGES
    assert "Running stage" not in dvc("repro", *stages)  # the copy is up to date
    secrnn_lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["features_audio"]["outs"][0]["md5"]

    params = yaml.safe_load((root / "params.yaml").read_text())
    params["model"]["system"] = "dualstream"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = dvc("status", *stages)
    assert "features_audio:" in status and "prepare:" not in status and "validate:" not in status, status
    out = dvc("repro", *stages)
    assert "Running stage 'features_audio'" in out and "Running stage 'prepare'" not in out, out
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]["features_audio"]
    assert lock["outs"][0]["md5"] != secrnn_lock
    assert "features.audio.dualstream" in lock["params"]["params.yaml"]
    assert np.load(next((root / "data" / "features" / "audio").glob("*.npy"))).shape == (30, 256)

    params["model"]["system"] = "secrnn"  # back: DVC's run cache restores the SE-CRNN's features
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = dvc("repro", *stages)
    assert "Running stage 'features_audio'" not in out and "is cached" in out, out
    assert yaml.safe_load((root / "dvc.lock").read_text())["stages"]["features_audio"]["outs"][0]["md5"] == secrnn_lock
