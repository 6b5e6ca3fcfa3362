"""Shared fixtures: repository paths, the real TAU clips, an isolated MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
TAU_AUDIO = SHARED / "tau_audio"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tau_audio_dir() -> Path:
    """The eight real TAU clips in ../shared/tau_audio (read in place, never copied)."""
    if not TAU_AUDIO.is_dir() or not list(TAU_AUDIO.glob("*.wav")):
        pytest.skip(f"real TAU clips not available: {TAU_AUDIO} is absent (CI has it beside the repo)")
    return TAU_AUDIO


@pytest.fixture(autouse=True)
def isolated_mlflow(tmp_path_factory, monkeypatch):
    """Every test gets its own SQLite MLflow store, never the repo's mlruns/."""
    store = tmp_path_factory.mktemp("mlruns")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}/mlflow.db")
    monkeypatch.setenv("AVSC_MLFLOW_ARTIFACTS", str(store / "artifacts"))
    yield store


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """A small synthetic dataset in the TAU layout (3-s clips, 4 per class), made once per session."""
    from avsc.data.synth import SynthConfig, synthesize

    out = tmp_path_factory.mktemp("synth") / "tau"
    synthesize(SynthConfig(out=out, clips_per_class=4, seed=7, duration_s=3.0, cities=3,
                           video_width=64, video_height=48, video_fps=10))
    return out


TINY_PARAMS = {
    "base": {"seed": 3},
    "data": {"root": "data/tau-synthetic"},
    "features": {"workers": 2, "visual": {"image_size": 32, "batch_size": 50}},
    "train_audio": {"epochs": 2, "batch_size": 16, "crops_per_clip": 2},
    "train_visual": {"epochs": 2, "batch_size": 16, "crops_per_clip": 2},
    "train_fusion": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "finetune": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-5, "crops_per_clip": 2},
    "validate": {"duration_s": 3.0},
}


def make_workspace(base: Path, dataset: Path, overrides: dict | None = None) -> Path:
    """A repository-like folder: params.yaml (tiny settings) and a copy of the synthetic dataset."""
    import shutil

    import yaml

    root = base
    root.mkdir(parents=True, exist_ok=True)
    params = {k: dict(v) for k, v in TINY_PARAMS.items()}
    for key, value in (overrides or {}).items():
        params.setdefault(key, {}).update(value)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(dataset, root / "data" / "tau-synthetic")
    return root


@pytest.fixture(scope="session")
def features_workspace(tmp_path_factory, synthetic_dataset) -> Path:
    """A workspace after prepare + both feature stages (tiny settings), shared read-only by tests."""
    from avsc.config.settings import load_params
    from avsc.data.manifest import prepare
    from avsc.features.stage import run_audio_stage, run_visual_stage

    root = make_workspace(tmp_path_factory.mktemp("ws") / "repo", synthetic_dataset)
    params = load_params(root / "params.yaml")
    prepare(params, root)
    run_audio_stage(params, root)
    run_visual_stage(params, root)
    return root
