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
from avsc.features.audio_stage import run_audio_stage
from avsc.features.normalize import load_stats
from avsc.features.visual_stage import run_visual_stage

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
    expected = params.audio_features.model_dump() if modality == "audio" else params.visual_features.model_dump()
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
    secrnn = params.features.audio.secrnn.model_copy(update={"kind": "logmel"})
    audio = params.features.audio.model_copy(update={"secrnn": secrnn})
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
    "from avsc.features.audio_stage import run_audio_stage; root = Path(sys.argv[1]); "
    "run_audio_stage(load_params(root / 'params.yaml'), root)"
)


def test_audio_stage_survives_a_kill(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")
    published = root / FEATURES / "audio"
    shutil.rmtree(published)  # as DVC does before it runs the stage
    partial = root / FEATURES / ".partial"
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_AUDIO, str(root)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 180
        while not any(_clip_files(f) for f in partial.glob("audio-*")):
            assert proc.poll() is None, f"stage ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "no clip written within 180 s"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the stage and its worker processes
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    (work,) = partial.glob("audio-*")
    done_at_kill = {p.name: p.stat().st_mtime_ns for p in _clip_files(work)}
    assert 1 <= len(done_at_kill) < 40
    assert not (work / "manifest.json").exists() and not published.exists()  # nothing looks complete

    result = run_audio_stage(load_params(root / "params.yaml"), root)
    folder = published
    assert result["n_clips"] == 40
    assert not list(folder.glob(".*")) and not work.exists()  # no temporaries left by the killed run
    for name, mtime in done_at_kill.items():
        assert (folder / name).stat().st_mtime_ns == mtime, f"{name} was computed twice"
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
    for modality, run, bad, key in (
        ("audio", run_audio_stage, bad_wav, "filename_audio"),
        ("visual", run_visual_stage, bad_mp4, "filename_video"),
    ):
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


# ----------------------------------------------------------------------- code and weights provenance


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in _clip_files(folder)}


def _edited_copy(module, tmp_path: Path, monkeypatch) -> Path:
    """Make ``module``'s source file look edited (a copy with one more comment line)."""
    edited = tmp_path / f"edited_{Path(module.__file__).name}"
    edited.write_text(Path(module.__file__).read_text() + "\n# an edit\n")
    monkeypatch.setattr(module, "__file__", str(edited))
    return edited


@pytest.mark.parametrize(
    "modality, module_name", [("audio", "avsc.features.audio"), ("visual", "avsc.models.backbone")]
)
def test_features_recomputed_when_their_code_changes(features_workspace, tmp_path, monkeypatch, modality, module_name):
    import importlib

    root = _copy(features_workspace, tmp_path / "repo")
    params = load_params(root / "params.yaml")
    folder = root / FEATURES / modality
    before = _mtimes(folder)
    fingerprint_before = json.loads((folder / "state.json").read_text())["fingerprint"]
    run = run_audio_stage if modality == "audio" else run_visual_stage
    run(params, root)  # unchanged code: nothing to do
    assert _mtimes(folder) == before

    _edited_copy(importlib.import_module(module_name), tmp_path, monkeypatch)
    time.sleep(0.05)
    result = run(params, root)
    state = json.loads((folder / "state.json").read_text())
    assert state["fingerprint"] != fingerprint_before
    assert module_name in state["state"]["code"]
    after = _mtimes(folder)
    assert sorted(after) == sorted(before)
    assert all(after[name] != mtime for name, mtime in before.items()), "clips kept from the old code"
    assert result["fingerprint"] == state["fingerprint"]
    assert json.loads((folder / "manifest.json").read_text())["fingerprint"] == state["fingerprint"]


def _vgg_weights(path: Path, seed: int) -> None:
    import keras

    from avsc.models.backbone import build_visual_backbone

    keras.utils.set_random_seed(seed)
    model, _ = build_visual_backbone(image_size=32, weights_path=None, quiet=True)
    model.save_weights(path)


@pytest.mark.slow
def test_visual_features_follow_the_weights_file_content(features_workspace, tmp_path):
    from avsc.data.media import decode_frames
    from avsc.models.backbone import build_visual_backbone, preprocess_frames

    root = _copy(features_workspace, tmp_path / "repo")
    weights = root / "vgg.weights.h5"
    _vgg_weights(weights, seed=1)
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["features"]["visual"]["secrnn"]["weights"] = "vgg.weights.h5"
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    params = load_params(root / "params.yaml")
    folder = root / FEATURES / "visual"
    clip = read_manifest(root / "data" / "manifest.json")["clips"][0]

    first = run_visual_stage(params, root)
    emb_first = np.load(folder / f"{clip['clip']}.npy")
    _vgg_weights(weights, seed=2)  # other weights, same path and params
    second = run_visual_stage(params, root)
    emb_second = np.load(folder / f"{clip['clip']}.npy")
    assert second["fingerprint"] != first["fingerprint"]
    assert not np.allclose(emb_first, emb_second)

    backbone, pretrained = build_visual_backbone(image_size=32, weights_path=weights)
    assert pretrained and second["backbone_pretrained"]
    video = root / "data" / "tau-synthetic" / clip["filename_video"]
    frames = decode_frames(video, fps=5, size=(32, 32), duration_s=3.0)
    expected = backbone(preprocess_frames(frames), training=False).numpy()
    np.testing.assert_allclose(emb_second, expected, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------ foreign folders


def test_stage_never_deletes_a_folder_it_did_not_write(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")
    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["base"]["features_dir"] = "data/tau-synthetic"  # a mistake: its audio/ is the dataset's
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    dataset_audio = root / "data" / "tau-synthetic" / "audio"
    before = {p.name: p.read_bytes() for p in dataset_audio.iterdir()}
    with pytest.raises(DataError) as err:
        run_audio_stage(load_params(root / "params.yaml"), root)
    assert str(dataset_audio) in str(err.value)
    assert {p.name: p.read_bytes() for p in dataset_audio.iterdir()} == before


# ------------------------------------------------------------------------------- nominal length


def test_a_clip_a_hair_short_gets_the_nominal_frame_count(features_workspace, tmp_path):
    import soundfile as sf

    from avsc.training.arrays import load_split

    root = _copy(features_workspace, tmp_path / "repo")
    params = load_params(root / "params.yaml")
    clip = next(c for c in read_manifest(root / "data" / "manifest.json")["clips"] if c["split"] == "train")
    wav = root / "data" / "tau-synthetic" / clip["filename_audio"]
    audio, sr = sf.read(wav, always_2d=True)
    sf.write(wav, audio[: int(2.96 * sr)], sr, subtype="PCM_24")  # within validate.duration_tolerance_s
    prepare(params, root)

    result = run_audio_stage(params, root)
    assert result["shape"] == [64, 150, 3]
    assert set(map(tuple, result["clips"].values())) == {(64, 150, 3)}
    short = np.load(root / FEATURES / "audio" / f"{clip['clip']}.npy")
    assert short.shape == (64, 150, 3)  # 148 computed frames, the last one repeated twice
    np.testing.assert_array_equal(short[:, 148], short[:, 147])
    np.testing.assert_array_equal(short[:, 149], short[:, 147])
    train = load_split(params, root, "train", modalities=("audio",))
    assert clip["clip"] in train.clips
    assert train.audio.shape[1:] == (64, 150, 3)


# --------------------------------------------------------------------------------- skip ceiling


def test_skipping_more_than_the_ceiling_fails_the_stage(features_workspace, tmp_path):
    root = _copy(features_workspace, tmp_path / "repo")
    data = root / "data" / "tau-synthetic"
    clips = read_manifest(root / "data" / "manifest.json")["clips"]
    bad = clips[:3]  # 3 of 40 = 7.5 % > the default 5 %
    for c in bad:
        (data / c["filename_audio"]).write_bytes(np.random.default_rng(0).bytes(20_000))
    params = _set_on_error(root, "skip")
    assert params.features.max_skipped_fraction == 0.05
    prepare(params, root)
    with pytest.raises(DataError) as err:
        run_audio_stage(params, root)
    message = str(err.value)
    assert "\n" not in message and "max_skipped_fraction" in message and "of 40" in message
    assert Path(bad[0]["filename_audio"]).name in message
    assert not (root / FEATURES / "audio" / "manifest.json").exists()  # no stale output of other data is left

    raw = yaml.safe_load((root / "params.yaml").read_text())
    raw["features"]["max_skipped_fraction"] = 0.1
    (root / "params.yaml").write_text(yaml.safe_dump(raw))
    result = run_audio_stage(load_params(root / "params.yaml"), root)
    assert result["n_skipped"] == 3 and result["n_clips"] == 37
    manifest = json.loads((root / FEATURES / "audio" / "manifest.json").read_text())
    assert manifest["n_skipped"] == 3 and manifest["skipped"] == sorted(c["clip"] for c in bad)


# ------------------------------------------------------------------------------ bounded decoding


def test_visual_decoding_runs_at_most_a_window_ahead_of_the_backbone(features_workspace, tmp_path, monkeypatch):
    import threading

    import avsc.features.visual_stage as stage
    import avsc.models.backbone as backbone_module

    root = _copy(features_workspace, tmp_path / "repo")
    shutil.rmtree(root / FEATURES / "visual")
    params = load_params(root / "params.yaml")
    lock = threading.Lock()
    counts = {"decoded": 0, "consumed": 0, "peak": 0}
    real_decode, real_build = stage.decode_frames, backbone_module.build_backbone

    def counting_decode(*args, **kwargs):
        frames = real_decode(*args, **kwargs)
        with lock:
            counts["decoded"] += 1
            counts["peak"] = max(counts["peak"], counts["decoded"] - counts["consumed"])
        return frames

    class SlowBackbone:
        """The real backbone, slowed down; one call per clip (15 frames < batch size 50)."""

        def __init__(self, model):
            self.model = model

        def __getattr__(self, name):
            return getattr(self.model, name)

        def __call__(self, batch, training=False):
            assert len(batch) <= params.visual_features.batch_size
            time.sleep(0.02)
            with lock:
                counts["consumed"] += 1
            return self.model(batch, training=training)

    def slow_build(**kwargs):
        model, pretrained = real_build(**kwargs)
        return SlowBackbone(model), pretrained

    monkeypatch.setattr(stage, "decode_frames", counting_decode)
    monkeypatch.setattr(backbone_module, "build_backbone", slow_build)
    result = run_visual_stage(params, root)
    assert result["n_clips"] == 40 and counts["decoded"] == counts["consumed"] == 40
    bound = 2 * params.features.workers
    assert 1 <= counts["peak"] <= bound, f"{counts['peak']} decoded clips waiting for the backbone (bound {bound})"
