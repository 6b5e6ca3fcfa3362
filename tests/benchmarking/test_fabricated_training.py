"""A training step on a fabricated set above the in-memory limit reads its features from disk."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from avsc.benchmarking.fabricate import FeatureShape, fabricate_workspace, split_names
from avsc.config.settings import load_params


def test_splits_keep_the_development_set_proportions():
    names = split_names(12_292)
    assert names.count("evaluate") == 3_645 and names.count("validation") == 865 and names.count("train") == 7_782


@pytest.mark.slow
def test_fit_streams_a_fabricated_set_larger_than_the_limit(tmp_path, repo_root, monkeypatch):
    import avsc.systems.base as base
    from avsc.training import arrays
    from avsc.training.stages import fit

    doc = yaml.safe_load((repo_root / "params.yaml").read_text())
    params = load_params(repo_root / "params.yaml")
    shapes = {"audio": FeatureShape((16, 100, 3), "float32", 1, 50.0)}  # small shapes: 2-s clips
    doc["validate"]["duration_s"] = 2.0
    doc["features"]["audio"]["secrnn"]["n_bands"] = 16
    written = fabricate_workspace(tmp_path, doc, params, n_clips=60, shapes=shapes)
    assert written["audio"] == 60 * 16 * 100 * 3 * 4
    monkeypatch.setattr(arrays, "IN_MEMORY_LIMIT", 100_000)  # far below the 0.7 MB of the train split
    monkeypatch.setattr(base, "CHUNK_CLIPS", 2)
    params = load_params(tmp_path / "params.yaml")
    train = arrays.load_split(params, tmp_path, "train", modalities=("audio",))
    assert arrays.is_streamed(train) and len(train) == 38
    cfg = params.train_audio.model_copy(update={"epochs": 1, "steps_per_epoch": 2, "batch_size": 8})
    model, state = fit(params, tmp_path, "audio", cfg=cfg, log_mlflow=False)
    assert state.epoch == 1 and np.isfinite(state.history["val_loss"][0])
    assert model.input_shape[1:] == (16, 50, 3)
