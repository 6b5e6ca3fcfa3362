"""``avsc synth --evaluation-set``: 1-s clips in the DCASE 2021 Task 1B evaluation naming."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from avsc.cli import main
from avsc.data import media
from avsc.data.synthetic import EvaluationSetConfig, synthesize_evaluation_set
from avsc.data.tau import CLASSES
from avsc.errors import ConfigError, DataError

N = 20


def config(out: Path, *, seed: int = 5, clips: int = N) -> EvaluationSetConfig:
    return EvaluationSetConfig(out=out, clips=clips, seed=seed, video_width=32, video_height=24, video_fps=4)


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def evaluation_set(tmp_path_factory) -> Path:
    return synthesize_evaluation_set(config(tmp_path_factory.mktemp("eval") / "set"), workers=2)


def test_layout_and_names(evaluation_set: Path) -> None:
    root = evaluation_set
    assert sorted(p.name for p in root.iterdir()) == [
        "README.txt",
        "SYNTHETIC",
        "audio",
        "evaluation_setup",
        "ground_truth.csv",
        "video",
    ]
    assert sorted((root / "audio").iterdir()) == sorted(root / "audio" / f"{i}.wav" for i in range(N))
    assert sorted((root / "video").iterdir()) == sorted(root / "video" / f"{i}.mp4" for i in range(N))
    assert [p.name for p in (root / "evaluation_setup").iterdir()] == ["fold1_test.csv"]
    test = read(root / "evaluation_setup" / "fold1_test.csv")
    assert list(test.columns) == ["filename_audio", "filename_video"]  # no labels in the official list
    assert list(test["filename_audio"]) == [f"audio/{i}.wav" for i in range(N)]
    assert list(test["filename_video"]) == [f"video/{i}.mp4" for i in range(N)]
    truth = read(root / "ground_truth.csv")
    assert list(truth.columns) == ["filename_audio", "filename_video", "scene_label"]
    assert list(truth["filename_audio"]) == list(test["filename_audio"])
    assert truth["scene_label"].value_counts().to_dict() == {c: 2 for c in CLASSES}  # balanced, shuffled
    assert list(truth["scene_label"]) != [CLASSES[i % 10] for i in range(N)]
    readme = (root / "README.txt").read_text()
    assert "no labels" in readme and "ground_truth.csv is NOT part of the official layout" in readme
    assert "SYNTHETIC" in (root / "SYNTHETIC").read_text()
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_media_formats(evaluation_set: Path) -> None:
    for i in (0, 7, N - 1):
        info = sf.info(str(evaluation_set / "audio" / f"{i}.wav"))
        assert (info.format, info.subtype, info.channels, info.samplerate, info.frames) == (
            "WAV",
            "PCM_24",
            2,
            48000,
            48000,
        )
        with av.open(str(evaluation_set / "video" / f"{i}.mp4")) as container:
            assert container.format.name.startswith("mov,mp4")
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert (stream.codec_context.width, stream.codec_context.height) == (32, 24)
            assert float(stream.average_rate) == pytest.approx(4.0)
            assert len(list(container.decode(stream))) == 4  # 1 s at 4 fps
        video = media.probe_video(evaluation_set / "video" / f"{i}.mp4")
        assert video.has_audio and video.duration_s == pytest.approx(1.0, abs=0.15)


def test_deterministic_per_seed(evaluation_set: Path, tmp_path: Path) -> None:
    again = synthesize_evaluation_set(config(tmp_path / "again"), workers=1)
    other = synthesize_evaluation_set(config(tmp_path / "other", seed=6), workers=1)
    for rel in ["evaluation_setup/fold1_test.csv", "ground_truth.csv", *(f"audio/{i}.wav" for i in range(N))]:
        assert digest(again / rel) == digest(evaluation_set / rel), rel
    for i in range(0, N, 5):  # libx264 is not bit-exact run to run; the rendered frames are
        fa = media.decode_frames(evaluation_set / "video" / f"{i}.mp4", fps=4)
        fb = media.decode_frames(again / "video" / f"{i}.mp4", fps=4)
        assert fa.shape == fb.shape == (4, 24, 32, 3)
        assert np.abs(fa.astype(int) - fb.astype(int)).mean() < 8.0
    assert digest(other / "ground_truth.csv") != digest(evaluation_set / "ground_truth.csv")
    assert digest(other / "audio" / "0.wav") != digest(evaluation_set / "audio" / "0.wav")


def test_refuses_non_empty_out(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        synthesize_evaluation_set(config(out, clips=2))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["busy"]


def test_bad_settings_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"clips must be at least 1 \(got 0\)"):
        EvaluationSetConfig(out=tmp_path / "x", clips=0)
    with pytest.raises(ConfigError, match=r"video_width must be a multiple of 2 \(got 33\)"):
        EvaluationSetConfig(out=tmp_path / "x", clips=3, video_width=33)
    assert not (tmp_path / "x").exists()


def test_cli_writes_evaluation_set(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["synth", "--evaluation-set", "--clips", "3", "--out", str(out), "--video-size", "32x24"]
    assert main([*args, "--video-fps", "4", "--seed", "9"]) == 0
    assert sorted(p.name for p in (out / "audio").iterdir()) == ["0.wav", "1.wav", "2.wav"]
    assert len(read(out / "evaluation_setup" / "fold1_test.csv")) == 3


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--evaluation-set"], "--evaluation-set needs --clips N"),
        (["--evaluation-set", "--clips", "3", "--duration", "10"], "--duration: not for --evaluation-set"),
        (["--clips", "3"], "--clips is for --evaluation-set"),
        (["--evaluation-set", "--clips", "0"], "clips must be at least 1"),
    ],
)
def test_cli_mistakes_are_one_line(tmp_path: Path, capsys, extra: list[str], message: str) -> None:
    assert main(["synth", "--out", str(tmp_path / "x"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "x").exists()
