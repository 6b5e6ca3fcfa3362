"""The synthetic dataset: exact TAU layout, media formats, determinism, folds, CLI and the synth stage."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from avsc.cli import main as avsc_main
from avsc.data import media
from avsc.data.synthetic import SynthConfig, synthesize
from avsc.data.synthetic.audio import render_audio
from avsc.data.synthetic.plan import fold_sizes
from avsc.data.synthetic.video import render_video
from avsc.data.tau import CITIES, CLASSES, load_dataset, parse_clip_name
from avsc.errors import ConfigError, DataError

NAME = re.compile(r"^(?P<scene>[a-z_]+)-(?P<city>[a-z]+)-(?P<location>\d+)-(?P<segment>\d+)$")


def tiny(out: Path, seed: int = 3) -> SynthConfig:
    return SynthConfig(
        out=out, clips_per_class=2, seed=seed, duration_s=1.5, cities=2, video_width=32, video_height=24, video_fps=4
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str)


def test_layout_and_names(synthetic_dataset: Path) -> None:
    root = synthetic_dataset
    for rel in (
        "meta.csv",
        "evaluation_setup/fold1_train.csv",
        "evaluation_setup/fold1_evaluate.csv",
        "evaluation_setup/fold1_test.csv",
        "SYNTHETIC",
        "README.txt",
    ):
        assert (root / rel).is_file(), rel
    assert "SYNTHETIC" in (root / "SYNTHETIC").read_text()
    meta = read(root / "meta.csv")
    assert list(meta.columns) == ["filename_audio", "filename_video", "scene_label", "identifier"]
    assert len(meta) == 40 and meta["filename_audio"].is_unique
    wavs = sorted(p.name for p in (root / "audio").iterdir())
    mp4s = sorted(p.name for p in (root / "video").iterdir())
    assert wavs == sorted(Path(f).name for f in meta["filename_audio"])
    assert [Path(n).stem for n in mp4s] == [Path(n).stem for n in wavs]
    for row in meta.itertuples():
        stem = Path(row.filename_audio).stem
        match = NAME.match(stem)
        assert match, stem
        assert row.filename_audio == f"audio/{stem}.wav" and row.filename_video == f"video/{stem}.mp4"
        assert match["scene"] == row.scene_label
        assert match["city"] in CITIES[:3]
        assert row.identifier == f"{match['city']}-{match['location']}"
    assert meta["scene_label"].value_counts().to_dict() == {c: 4 for c in CLASSES}
    # an identifier (recording location) belongs to one scene
    assert meta.groupby("identifier")["scene_label"].nunique().max() == 1


def test_fold_files(synthetic_dataset: Path) -> None:
    setup = synthetic_dataset / "evaluation_setup"
    train, evaluate, test = (read(setup / f"fold1_{n}.csv") for n in ("train", "evaluate", "test"))
    assert list(train.columns) == ["filename_audio", "filename_video", "scene_label"]
    assert list(evaluate.columns) == ["filename_audio", "filename_video", "scene_label"]
    assert list(test.columns) == ["filename_audio", "filename_video"]
    assert list(test["filename_audio"]) == list(evaluate["filename_audio"])
    meta = read(synthetic_dataset / "meta.csv")
    assert sorted(train["filename_audio"]) + [] == sorted(set(meta["filename_audio"]) - set(evaluate["filename_audio"]))
    train_locs = {parse_clip_name(f).identifier for f in train["filename_audio"]}
    eval_locs = {parse_clip_name(f).identifier for f in evaluate["filename_audio"]}
    assert not train_locs & eval_locs
    for scene in CLASSES:
        tr = train[train["scene_label"] == scene]
        assert len(tr) == 3 and (evaluate["scene_label"] == scene).sum() == 1
        assert len({parse_clip_name(f).identifier for f in tr["filename_audio"]}) >= 2


@pytest.mark.parametrize("n", [2, 4, 6, 10, 40])
def test_fold_sizes(n: int) -> None:
    train, evaluate = fold_sizes(clips_per_class=n)
    assert sum(train) + sum(evaluate) == n and min(train + evaluate) >= 1
    assert len(evaluate) >= 1
    if n >= 4:
        assert len(train) >= 2
        assert 0.2 <= sum(evaluate) / n <= 0.4


def test_media_formats(synthetic_dataset: Path) -> None:
    meta = read(synthetic_dataset / "meta.csv")
    for row in meta.iloc[[0, 17, 39]].itertuples():
        wav = synthetic_dataset / row.filename_audio
        info = sf.info(str(wav))
        assert (info.subtype, info.channels, info.samplerate, info.frames) == ("PCM_24", 2, 48000, 144000)
        audio, _ = media.read_audio(wav)
        assert 0.0 < np.abs(audio).max() <= 0.5 + 1e-4
        assert np.std(audio[:, 0] - audio[:, 1]) > 1e-4  # genuinely stereo
        video = media.probe_video(synthetic_dataset / row.filename_video)
        assert video.codec == "h264" and (video.width, video.height) == (64, 48)
        assert video.fps == pytest.approx(10.0)
        assert video.duration_s == pytest.approx(info.duration, abs=0.15)
        assert video.has_audio
        track, sr = media.read_mp4_audio(synthetic_dataset / row.filename_video)
        assert sr == 48000 and track.shape[1] == 2
        frames = media.decode_frames(synthetic_dataset / row.filename_video, fps=10)
        assert frames.shape == (30, 48, 64, 3) and frames.std() > 5


def test_scenes_differ(synthetic_dataset: Path) -> None:
    """Scene signatures are visible: mean colour and spectrum centroid differ between scenes."""
    meta = read(synthetic_dataset / "meta.csv")
    park = meta[meta["scene_label"] == "park"].iloc[0]
    metro = meta[meta["scene_label"] == "metro"].iloc[0]
    green = [
        media.decode_frames(synthetic_dataset / r["filename_video"], fps=2).mean(axis=(0, 1, 2)) for r in (park, metro)
    ]
    assert green[0][1] > green[1][1] + 10  # park is greener than the metro

    def centroid(rel: str) -> float:
        audio, sr = media.read_audio(synthetic_dataset / rel)
        spec = np.abs(np.fft.rfft(audio[:, 0]))
        freqs = np.fft.rfftfreq(audio.shape[0], 1 / sr)
        return float((spec * freqs).sum() / spec.sum())

    assert centroid(park["filename_audio"]) > centroid(metro["filename_audio"])


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a = synthesize(tiny(tmp_path / "a", seed=3), workers=2)
    b = synthesize(tiny(tmp_path / "b", seed=3), workers=1)
    c = synthesize(tiny(tmp_path / "c", seed=4), workers=1)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.suffix == ".mp4":
            # libx264 (PyAV's build) is not bit-exact run to run even with threads=1, so the
            # encoded streams may differ slightly; the rendered frames are identical (see below).
            fa, fb = media.decode_frames(a / rel, fps=4), media.decode_frames(b / rel, fps=4)
            assert fa.shape == fb.shape
            assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 8.0, rel  # crf 28 coding noise
            assert np.corrcoef(fa.ravel(), fb.ravel())[0, 1] > 0.95, rel
        else:
            assert digest(a / rel) == digest(b / rel), rel
    wav = sorted((a / "audio").iterdir())[0].name
    assert (c / "meta.csv").read_text() != (a / "meta.csv").read_text()
    other = sorted((c / "audio").iterdir())[0]
    assert digest(a / "audio" / wav) != digest(other)
    # nothing but the datasets is left in the parent folder (no temporary siblings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_refuses_non_empty_out(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        synthesize(tiny(out))
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]


def test_empty_out_is_used(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    assert synthesize(tiny(out)) == out and (out / "meta.csv").is_file()


def test_bad_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="video_width"):
        synthesize(SynthConfig(out=tmp_path / "x", video_width=33))
    assert not (tmp_path / "x").exists()


def test_load_dataset_and_validation_split(synthetic_dataset: Path) -> None:
    ds = load_dataset(synthetic_dataset, validation_fraction=0.1, seed=2021)
    assert ds.is_synthetic
    assert len(ds.train) + len(ds.validation) == 30 and len(ds.evaluate) == 10
    assert len(ds.validation) > 0
    assert not set(ds.validation["identifier"]) & set(ds.train["identifier"])
    assert not set(ds.validation["identifier"]) & set(ds.evaluate["identifier"])
    assert set(ds.train["scene_label"]) == set(CLASSES)
    row = ds.train.iloc[0]
    assert ds.audio_path(row).is_file() and ds.video_path(row).is_file()


def test_cli_help() -> None:
    result = subprocess.run([sys.executable, "-m", "avsc", "synth", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--clips-per-class" in result.stdout


def test_cli_writes_dataset(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    code = avsc_main(
        [
            "synth",
            "--out",
            str(out),
            "--clips-per-class",
            "2",
            "--duration",
            "1.5",
            "--cities",
            "2",
            "--video-size",
            "32x24",
            "--video-fps",
            "4",
            "--seed",
            "3",
        ]
    )
    assert code == 0
    assert len(read(out / "meta.csv")) == 20
    assert media.probe_video(next((out / "video").iterdir())).width == 32


def test_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    assert avsc_main(["synth", "--out", str(tmp_path / "x"), "--video-size", "big"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "WIDTHxHEIGHT" in err[0]


def _params(tmp_path: Path, root: str) -> Path:
    (tmp_path / "params.yaml").write_text(
        "base:\n  seed: 5\n"
        f"data:\n  root: {root}\n  synthetic:\n    clips_per_class: 2\n    duration_s: 1.5\n    cities: 2\n"
        "    video_width: 32\n    video_height: 24\n    video_fps: 4\n"
    )
    return tmp_path / "params.yaml"


def test_synth_stage_writes_the_sample_and_replaces_only_its_own(tmp_path: Path) -> None:
    from avsc.config.settings import load_params
    from avsc.data.synthetic.stage import SYNTHETIC_ROOT, run_synth_stage

    params = load_params(_params(tmp_path, SYNTHETIC_ROOT))
    out = run_synth_stage(params, tmp_path)
    assert out == tmp_path / SYNTHETIC_ROOT
    assert (out / "meta.csv").is_file() and (out / "SYNTHETIC").is_file()
    assert len(list((out / "audio").glob("*.wav"))) == 20
    first = digest(out / "meta.csv")
    run_synth_stage(params, tmp_path)  # an earlier sample is replaced by the same one
    assert digest(out / "meta.csv") == first


def test_synth_stage_never_overwrites_a_folder_it_did_not_write(tmp_path: Path, capsys) -> None:
    from avsc.config.settings import load_params
    from avsc.data.synthetic.stage import SYNTHETIC_ROOT, run_synth_stage
    from avsc.errors import DataError

    out = tmp_path / SYNTHETIC_ROOT
    out.mkdir(parents=True)
    (out / "my-notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a synthetic sample avsc wrote"):
        run_synth_stage(load_params(_params(tmp_path, SYNTHETIC_ROOT)), tmp_path)
    assert (out / "my-notes.txt").read_text() == "mine"


def test_rendering_is_deterministic() -> None:
    """The frames and audio handed to the encoders depend only on the seeds."""
    for scene in ("bus", "street_traffic"):
        runs = [
            (
                render_video(
                    scene=scene,
                    n_frames=5,
                    fps=5,
                    width=32,
                    height=24,
                    loc_rng=np.random.default_rng(1),
                    rng=np.random.default_rng(seed),
                ),
                render_audio(scene=scene, n=24000, loc_rng=np.random.default_rng(1), rng=np.random.default_rng(seed)),
            )
            for seed in (2, 2, 3)
        ]
        assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])
        assert not np.array_equal(runs[0][0], runs[2][0]) and not np.array_equal(runs[0][1], runs[2][1])
        assert runs[0][0].dtype == np.uint8 and runs[0][1].shape == (24000, 2)
