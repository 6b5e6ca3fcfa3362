"""The TAU dataset layer on the real clips in ../shared/tau_audio and on broken index files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsc.data import media
from avsc.data.tau import CLASSES, load_dataset, parse_clip_name, validation_locations
from avsc.errors import DataError


def test_real_clips_header(tau_audio_dir: Path) -> None:
    wavs = sorted(tau_audio_dir.glob("*.wav"))
    assert len(wavs) >= 1
    for wav in wavs:
        info = media.probe_audio(wav)
        assert (info.subtype, info.channels, info.sample_rate, info.frames) == ("PCM_24", 2, 48000, 480000)
        assert info.duration_s == pytest.approx(10.0)


def test_real_clip_samples(tau_audio_dir: Path) -> None:
    audio, sr = media.read_audio(sorted(tau_audio_dir.glob("*.wav"))[0])
    assert sr == 48000 and audio.dtype == np.float32 and audio.shape == (480000, 2)
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 1.0
    assert audio.std() > 0


def test_parse_real_names(tau_audio_dir: Path) -> None:
    for wav in tau_audio_dir.glob("*.wav"):
        name = parse_clip_name(wav.name)
        assert name.scene in CLASSES and name.stem == wav.stem
    name = parse_clip_name("audio/metro_station-barcelona-63-1901.wav")
    assert (name.scene, name.city, name.location, name.segment) == ("metro_station", "barcelona", "63", "1901")
    assert name.identifier == "barcelona-63"
    with pytest.raises(DataError, match="does not follow"):
        parse_clip_name("metro-station-barcelona-63.wav")


def _copy_index(src: Path, dst: Path) -> Path:
    shutil.copytree(src / "evaluation_setup", dst / "evaluation_setup")
    shutil.copy(src / "meta.csv", dst / "meta.csv")
    return dst


def test_missing_meta_is_named(synthetic_dataset: Path, tmp_path: Path) -> None:
    root = _copy_index(synthetic_dataset, tmp_path / "ds")
    (root / "meta.csv").unlink()
    with pytest.raises(DataError, match=r"meta\.csv: missing"):
        load_dataset(root)
    with pytest.raises(DataError, match="not found"):
        load_dataset(tmp_path / "nowhere")


def test_missing_column_is_named(synthetic_dataset: Path, tmp_path: Path) -> None:
    root = _copy_index(synthetic_dataset, tmp_path / "ds")
    path = root / "evaluation_setup" / "fold1_train.csv"
    frame = pd.read_csv(path, sep="\t").drop(columns=["scene_label"])
    frame.to_csv(path, sep="\t", index=False)
    with pytest.raises(DataError, match=r"fold1_train\.csv: missing column\(s\) scene_label"):
        load_dataset(root)


def _train_frame() -> pd.DataFrame:
    rows = []
    for s, scene in enumerate(CLASSES):
        for loc in range(5):
            for seg in range(4):
                rows.append({"scene_label": scene, "identifier": f"lyon-{s * 10 + loc}"})
    return pd.DataFrame(rows)


def test_validation_locations_seeded_and_disjoint() -> None:
    train = _train_frame()
    a = validation_locations(train, fraction=0.2, seed=1)
    assert a == validation_locations(train, fraction=0.2, seed=1)
    assert any(validation_locations(train, fraction=0.2, seed=s) != a for s in range(2, 6))
    held = train[train["identifier"].isin(a)]
    kept = train[~train["identifier"].isin(a)]
    assert not set(held["identifier"]) & set(kept["identifier"])
    assert set(held["scene_label"]) == set(CLASSES) == set(kept["scene_label"])
    assert 0.1 <= len(held) / len(train) <= 0.35
