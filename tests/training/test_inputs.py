"""Loading a split's cached features."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from avsc.config.settings import load_params
from avsc.data.manifest import read_manifest
from avsc.errors import DataError
from avsc.training.arrays import load_split


def test_clips_of_different_lengths_are_a_one_line_error(features_workspace, tmp_path):
    root = shutil.copytree(features_workspace, tmp_path / "repo")
    params = load_params(root / "params.yaml")
    clip = next(c for c in read_manifest(root / "data" / "manifest.json")["clips"] if c["split"] == "train")
    path = root / "data" / "features" / "audio" / f"{clip['clip']}.npy"
    np.save(path, np.load(path)[:, :148])  # as a feature store from before clips were fitted to 150 frames
    with pytest.raises(DataError) as err:
        load_split(params, root, "train", modalities=("audio",))
    message = str(err.value)
    assert clip["clip"] in message and "(64, 148, 3)" in message and "(64, 150, 3)" in message
    assert "\n" not in message
