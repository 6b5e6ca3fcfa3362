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
    "data": {"root": "data/tau-synthetic"},
    "features": {"workers": 2, "visual": {"image_size": 32, "batch_size": 50}},
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


@pytest.fixture
def dvc_repo(tmp_path, synthetic_dataset, isolated_mlflow):
    if not (BIN / "dvc").exists():
        pytest.skip(f"{BIN / 'dvc'} not installed")
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copytree(REPO / "pipelines", root / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "src" / "avsc", root / "src" / "avsc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    params = _merge(yaml.safe_load((REPO / "params.yaml").read_text()), OVERRIDES)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(synthetic_dataset, root / "data" / "tau-synthetic")
    env = {k: v for k, v in os.environ.items() if k not in ("AVSC_ROOT", "AVSC_PIPELINE_RUN")}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
                "TF_CPP_MIN_LOG_LEVEL": "3", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"})

    def run(*cmd: str, check: bool = True) -> str:
        proc = subprocess.run(list(cmd), cwd=root, env=env, capture_output=True, text=True, timeout=900)
        out = proc.stdout + proc.stderr
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-4000:]}")
        return out

    run("git", "init", "-q")
    run(str(BIN / "dvc"), "init", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "init")
    return root, lambda *args, **kw: run(str(BIN / "dvc"), *args, **kw)


def test_repro_skips_reruns_and_tracks_changes(dvc_repo):
    root, dvc = dvc_repo
    stages = ("prepare", "validate", "features_audio")

    out = dvc("repro", *stages)
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
    wav = sorted((root / "data" / "tau-synthetic" / "audio").glob("*.wav"))[0]
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
