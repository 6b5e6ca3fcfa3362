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
    forget_mlflow_globals(monkeypatch)
    yield store


def forget_mlflow_globals(monkeypatch) -> None:
    """Let the environment name the store again: an earlier ``configure()`` left process-wide state.

    ``mlflow.set_tracking_uri`` / ``set_registry_uri`` / ``set_experiment`` keep module globals (and
    export ``MLFLOW_REGISTRY_URI`` / ``MLFLOW_EXPERIMENT_ID``) that outrank ``MLFLOW_TRACKING_URI``;
    MLflow has no public reset, so the test fixture clears them.
    """
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)
    monkeypatch.setattr(registry_utils, "_registry_uri", None)
    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory) -> Path:
    """A small synthetic dataset in the TAU layout (3-s clips, 4 per class), made once per session."""
    from avsc.data.synthetic import SynthConfig, synthesize

    out = tmp_path_factory.mktemp("synth") / "tau"
    synthesize(
        SynthConfig(
            out=out, clips_per_class=4, seed=7, duration_s=3.0, cities=3, video_width=64, video_height=48, video_fps=10
        )
    )
    return out


TINY_PARAMS = {
    "base": {"seed": 3},
    "data": {"root": "data/tau-synthetic"},
    "features": {
        "workers": 2,
        "visual": {
            "secrnn": {"image_size": 32, "batch_size": 50},
            "dualstream": {"backbone": "resnet50", "fps": 1, "image_size": 32, "batch_size": 50},
            "joint": {"backbone": "resnet50", "fps": 1, "image_size": 32, "batch_size": 50, "keep_frames": True},
        },
    },
    "train_audio": {"epochs": 2, "batch_size": 16, "crops_per_clip": 2},
    "train_visual": {"epochs": 2, "batch_size": 16, "crops_per_clip": 2},
    "train_fusion": {"epochs": 1, "batch_size": 16, "crops_per_clip": 2},
    "finetune": {"epochs": 1, "batch_size": 16, "learning_rate": 1e-5, "crops_per_clip": 2},
    "validate": {"duration_s": 3.0},
}


#: A test-size SE-CRNN: the default's blocks, layers and heads with a few units each. The workspaces that
#: train (``trained_workspace``, the training tests' copy) use it; features do not depend on it.
TINY_SECRNN = {"audio": {"filters": [8, 8, 16]}, "visual": {"gru_units": 8}, "fusion": {"gru_units": 8}}


def with_tiny_secrnn(root: Path) -> Path:
    """Write :data:`TINY_SECRNN` into ``root/params.yaml`` (``model.secrnn``); returns ``root``."""
    import yaml

    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw.setdefault("model", {})["secrnn"] = TINY_SECRNN
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    return root


@pytest.fixture(scope="session")
def tiny_secrnn():
    """:func:`with_tiny_secrnn`, for test modules that train in their own copy of a workspace."""
    return with_tiny_secrnn


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
    """A workspace after prepare, validate and both feature stages (tiny settings), shared read-only by tests."""
    from avsc.config.settings import load_params
    from avsc.data.manifest import prepare
    from avsc.data.validation.entry import main_for_stage as validate_stage
    from avsc.features.audio_stage import run_audio_stage
    from avsc.features.visual_stage import run_visual_stage

    root = make_workspace(tmp_path_factory.mktemp("ws") / "repo", synthetic_dataset)
    params = load_params(root / "params.yaml")
    prepare(params, root)
    validate_stage(params, root)  # the feature stages refuse to run without a valid report
    run_audio_stage(params, root)
    run_visual_stage(params, root)
    return root


class TrainedWorkspace:
    """What :func:`trained_workspace` returns: the workspace root and its MLflow store."""

    def __init__(self, root: Path, tracking_uri: str, artifacts: Path, register: dict):
        self.root = root
        self.tracking_uri = tracking_uri
        self.artifacts = artifacts
        self.register = register

    def use(self, monkeypatch) -> None:
        """Point this test at the trained workspace's store (the autouse fixture set a fresh one)."""
        monkeypatch.setenv("MLFLOW_TRACKING_URI", self.tracking_uri)
        forget_mlflow_globals(monkeypatch)
        monkeypatch.setenv("AVSC_MLFLOW_ARTIFACTS", str(self.artifacts))
        monkeypatch.setenv("AVSC_ROOT", str(self.root))


@pytest.fixture(scope="session")
def trained_workspace(tmp_path_factory, features_workspace) -> TrainedWorkspace:
    """A copy of ``features_workspace`` after the four training stages (a test-size SE-CRNN), evaluate and register.

    It has its own session SQLite MLflow store; tests that read it call ``trained_workspace.use(monkeypatch)``
    (the autouse ``isolated_mlflow`` points every test at a fresh empty store). Treat it as read-only.
    """
    import shutil

    from avsc.config.settings import load_params
    from avsc.evaluation.stage import evaluate
    from avsc.tracking.registry import register
    from avsc.training.stages import run_training_stage

    base = tmp_path_factory.mktemp("trained")
    root = base / "repo"
    with_tiny_secrnn(shutil.copytree(features_workspace, root))
    store = base / "mlruns"
    store.mkdir()
    uri = f"sqlite:///{store}/mlflow.db"
    env = {
        "AVSC_ROOT": str(root),
        "MLFLOW_TRACKING_URI": uri,
        "AVSC_MLFLOW_ARTIFACTS": str(store / "artifacts"),
        "AVSC_PIPELINE_RUN": "pytest-trained-workspace",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        params = load_params(root / "params.yaml")
        for step in ("audio", "visual", "fusion", "finetune"):
            run_training_stage(params, root, step)
        evaluate(params, root)
        result = register(params, root)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return TrainedWorkspace(root, uri, store / "artifacts", result)


@pytest.fixture(scope="session")
def workspace_maker():
    """:func:`make_workspace`, for test modules that build their own workspaces."""
    return make_workspace
