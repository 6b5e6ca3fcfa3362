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
