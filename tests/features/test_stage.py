"""The feature stages end to end: shapes, manifests, train-only normalisation, resume, corrupt clips."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from avsc.config.settings import load_params
from avsc.data.manifest import prepare, read_manifest
from avsc.errors import DataError
from avsc.features.normalize import load_stats
from avsc.features.stage import run_audio_stage, run_visual_stage

FEATURES = Path("data") / "features"


def _clip_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.npy") if not p.name.startswith("."))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


# --------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("modality, shape", [("audio", [64, 150, 3]), ("visual", [15, 512])])
def test_stage_outputs_and_manifest(features_workspace, modality, shape):
    root = features_workspace
    data_manifest = read_manifest(root / "data" / "manifest.json")
    folder = root / FEATURES / modality
    clips = [c["clip"] for c in data_manifest["clips"]]
    assert len(clips) == 40
    files = _clip_files(folder)
    assert sorted(p.stem for p in files) == sorted(clips)
    for path in files[:5] + files[-5:]:
        arr = np.load(path)
        assert list(arr.shape) == shape
        assert arr.dtype == np.float32
        assert np.isfinite(arr).all()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stage"] == f"features_{modality}"
    assert manifest["dataset_hash"] == data_manifest["dataset_hash"]
    assert sorted(manifest["clips"]) == sorted(clips)
    assert all(s == shape for s in manifest["clips"].values())
    assert manifest["shape"] == shape and manifest["n_clips"] == 40 and manifest["skipped"] == []
    assert manifest["data"] == "synthetic"
    params = load_params(root / "params.yaml")
    expected = params.features.audio.model_dump() if modality == "audio" else params.features.visual.model_dump()
    assert manifest["params"] == expected
    if modality == "visual":
        assert manifest["params"]["image_size"] == 32
    assert not list(folder.glob(".*.npy"))


# ------------------------------------------------------------------------------------- normalisation


def _split_clips(root: Path) -> tuple[list[str], list[str]]:
    clips = read_manifest(root / "data" / "manifest.json")["clips"]
    return [c["clip"] for c in clips if c["split"] == "train"], [c["clip"] for c in clips]


def test_audio_normalisation_fitted_on_train_only(features_workspace):
    folder = features_workspace / FEATURES / "audio"
    train, everything = _split_clips(features_workspace)
    assert 0 < len(train) < len(everything)
    mean, std = load_stats(folder / "stats.npz")
    assert mean.shape == std.shape == (64, 3)
    x_train = np.concatenate([np.load(folder / f"{c}.npy").astype(np.float64) for c in train], axis=1)
    x_all = np.concatenate([np.load(folder / f"{c}.npy").astype(np.float64) for c in everything], axis=1)
    np.testing.assert_allclose(mean, x_train.mean(axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(std, x_train.std(axis=1), rtol=1e-3, atol=1e-5)
    assert not np.allclose(mean, x_all.mean(axis=1), rtol=1e-4, atol=1e-5)


def test_visual_normalisation_fitted_on_train_only(features_workspace):
    folder = features_workspace / FEATURES / "visual"
    train, everything = _split_clips(features_workspace)
    mean, std = load_stats(folder / "stats.npz")
    assert mean.shape == std.shape == (512,)
    x_train = np.concatenate([np.load(folder / f"{c}.npy").astype(np.float64) for c in train], axis=0)
    x_all = np.concatenate([np.load(folder / f"{c}.npy").astype(np.float64) for c in everything], axis=0)
    np.testing.assert_allclose(mean, x_train.mean(axis=0), rtol=1e-4, atol=1e-6)
    live = x_train.std(axis=0) > 1e-3 * x_train.std(axis=0).max()
    np.testing.assert_allclose(std[live], x_train.std(axis=0)[live], rtol=1e-3, atol=1e-6)
    assert (std > 0).all()
    assert not np.allclose(mean, x_all.mean(axis=0), rtol=1e-4, atol=1e-6)


# -------------------------------------------------------------------------------------------- resume


def test_audio_stage_resumes_and_restarts_on_changed_params(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")
    params = load_params(root / "params.yaml")
    folder = root / FEATURES / "audio"
    files = _clip_files(folder)
    deleted = files[::8]  # 5 clips
    for path in deleted:
        path.unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in files if p not in deleted}
    time.sleep(0.05)
    result = run_audio_stage(params, root)
    assert result["n_clips"] == 40
    for path in deleted:
        assert path.is_file()
        np.testing.assert_array_equal(np.load(path), np.load(features_workspace / FEATURES / "audio" / path.name))
    for name, mtime in kept.items():
        assert (folder / name).stat().st_mtime_ns == mtime, f"{name} was recomputed"
    assert json.loads((folder / "manifest.json").read_text())["n_clips"] == 40

    # another front end: a different fingerprint, so the folder starts afresh
    state_before = json.loads((folder / "state.json").read_text())["fingerprint"]
    audio = params.features.audio.model_copy(update={"kind": "logmel"})
    logmel = params.model_copy(update={"features": params.features.model_copy(update={"audio": audio})})
    result = run_audio_stage(logmel, root)
    assert result["params"]["kind"] == "logmel"
    assert json.loads((folder / "state.json").read_text())["fingerprint"] != state_before
    for name, mtime in kept.items():
        assert (folder / name).stat().st_mtime_ns != mtime, f"{name} kept from the gammatone run"
    name = next(iter(kept))
    assert not np.allclose(np.load(folder / name), np.load(features_workspace / FEATURES / "audio" / name))
    assert len(_clip_files(folder)) == 40


_RUN_AUDIO = (
    "import sys; from pathlib import Path; from avsc.config.settings import load_params; "
    "from avsc.features.stage import run_audio_stage; root = Path(sys.argv[1]); "
    "run_audio_stage(load_params(root / 'params.yaml'), root)"
)


def test_audio_stage_survives_a_kill(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")
    folder = root / FEATURES / "audio"
    shutil.rmtree(folder)
    proc = subprocess.Popen([sys.executable, "-c", _RUN_AUDIO, str(root)], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        while not (folder.is_dir() and _clip_files(folder)):
            assert proc.poll() is None, f"stage ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no clip written within 180 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the stage and its worker processes
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    done_at_kill = len(_clip_files(folder))
    assert 1 <= done_at_kill < 40
    assert not (folder / "manifest.json").exists()

    result = run_audio_stage(load_params(root / "params.yaml"), root)
    assert result["n_clips"] == 40
    assert not list(folder.glob(".*"))  # no temporaries left by the killed run
    clean = features_workspace / FEATURES / "audio"
    assert [p.name for p in _clip_files(folder)] == [p.name for p in _clip_files(clean)]
    for path in _clip_files(folder):
        np.testing.assert_array_equal(np.load(path), np.load(clean / path.name))
    np.testing.assert_array_equal(load_stats(folder / "stats.npz")[0], load_stats(clean / "stats.npz")[0])


# ------------------------------------------------------------------------------------ corrupt inputs


def _set_on_error(root: Path, value: str):
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["features"]["on_error"] = value
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    return load_params(root / "params.yaml")


@pytest.mark.slow
def test_corrupt_clips_stop_or_skip(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")  # the dataset copy inside is ours to damage
    data = root / "data" / "tau-synthetic"
    params = load_params(root / "params.yaml")
    clips = prepare(params, root)["clips"]
    bad_wav = next(c for c in clips if c["split"] == "train")
    bad_mp4 = next(c for c in clips if c["split"] == "validation")
    rng = np.random.default_rng(0)
    (data / bad_wav["filename_audio"]).write_bytes(rng.bytes(20_000))
    (data / bad_mp4["filename_video"]).write_bytes(rng.bytes(20_000))
    manifest = prepare(params, root)
    assert manifest["n_clips"] == 40
    assert manifest["dataset_hash"] != read_manifest(features_workspace / "data" / "manifest.json")["dataset_hash"]

    stop = _set_on_error(root, "stop")
    with pytest.raises(DataError) as err:
        run_audio_stage(stop, root)
    assert Path(bad_wav["filename_audio"]).name in str(err.value)
    assert "on_error" in str(err.value)
    with pytest.raises(DataError) as err:
        run_visual_stage(stop, root)
    assert Path(bad_mp4["filename_video"]).name in str(err.value)
    assert not (root / FEATURES / "audio" / "manifest.json").exists()
    assert not (root / FEATURES / "visual" / "manifest.json").exists()

    skip = _set_on_error(root, "skip")
    for modality, run, bad, key in (("audio", run_audio_stage, bad_wav, "filename_audio"),
                                    ("visual", run_visual_stage, bad_mp4, "filename_video")):
        result = run(skip, root)
        folder = root / FEATURES / modality
        skipped = json.loads((folder / "skipped.json").read_text())
        assert list(skipped) == [bad["clip"]]
        assert Path(bad[key]).name in skipped[bad["clip"]]
        out = json.loads((folder / "manifest.json").read_text())
        assert out["skipped"] == [bad["clip"]]
        assert bad["clip"] not in out["clips"] and out["n_clips"] == 39
        assert not (folder / f"{bad['clip']}.npy").exists()
        assert result["n_clips"] == 39
