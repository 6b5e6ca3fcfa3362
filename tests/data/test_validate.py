"""``avsc validate``: one injected defect per test, each reported with its file and rule.

Every test copies the session's synthetic dataset (3-s clips), breaks one thing, runs the CLI and
checks the exit code, the offending file and rule in stderr, no traceback, and that validation left
the dataset byte-identical (files hashed, symlinks listed with their targets).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from avsc.cli import main
from avsc.data.media import write_mp4

SR = 48000
DUR = 3.0  # the session fixture's clip length (its SYNTHETIC marker declares it)
TRAIN = "evaluation_setup/fold1_train.csv"
EVALUATE = "evaluation_setup/fold1_evaluate.csv"


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every regular file and the target of every symlink, keyed by relative path."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "symlink -> " + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def read(root: Path, rel: str) -> pd.DataFrame:
    return pd.read_csv(root / rel, sep="\t", dtype=str, keep_default_na=False)


def write(root: Path, rel: str, frame: pd.DataFrame) -> None:
    frame.to_csv(root / rel, sep="\t", index=False, lineterminator="\n")


def first_train(root: Path) -> pd.Series:
    return read(root, TRAIN).iloc[0]


def set_everywhere(root: Path, column: str, old: str, new: str) -> None:
    """Replace a file name in meta.csv and both folds (and fold1_test)."""
    for rel in ("meta.csv", TRAIN, EVALUATE, "evaluation_setup/fold1_test.csv"):
        frame = read(root, rel)
        if column in frame:
            frame.loc[frame[column] == old, column] = new
            write(root, rel, frame)


def tone(seconds: float, sr: int = SR, channels: int = 2) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    x = 0.2 * np.sin(2 * np.pi * 440 * t)
    return np.stack([x] * channels, axis=1)


# ----------------------------------------------------------------------------------- defects
# Each returns (offending file as it appears in the index, rule text expected in stderr).


def missing_column(root: Path, tmp: Path):
    write(root, "meta.csv", read(root, "meta.csv").drop(columns=["identifier"]))
    return "meta.csv", "required columns"


def unknown_label(root: Path, tmp: Path):
    frame = read(root, TRAIN)
    frame.loc[0, "scene_label"] = "boat"
    write(root, TRAIN, frame)
    return frame.loc[0, "filename_audio"], "scene label must be one of the 10 classes"


def bad_file_name(root: Path, tmp: Path):
    row = first_train(root)
    new = "audio/Airport_London 1.wav"
    (root / row["filename_audio"]).rename(root / new)
    set_everywhere(root, "filename_audio", row["filename_audio"], new)
    return new, "audio file name must be audio/<scene>-<city>-<location>-<segment>.wav"


def dotdot_path(root: Path, tmp: Path):
    row = first_train(root)
    new = "audio/../audio/" + Path(row["filename_audio"]).name
    set_everywhere(root, "filename_audio", row["filename_audio"], new)
    return new, "path must be relative, without '..', and resolve inside the dataset root"


def absolute_path(root: Path, tmp: Path):
    row = first_train(root)
    new = str(root / row["filename_audio"])
    set_everywhere(root, "filename_audio", row["filename_audio"], new)
    return new, "path must be relative, without '..', and resolve inside the dataset root"


def symlink_outside(root: Path, tmp: Path):
    row = first_train(root)
    target = tmp / "outside.wav"
    shutil.copyfile(root / row["filename_audio"], target)
    (root / row["filename_audio"]).unlink()
    (root / row["filename_audio"]).symlink_to(target)
    return row["filename_audio"], "path must be relative, without '..', and resolve inside the dataset root"


def missing_file(root: Path, tmp: Path):
    row = first_train(root)
    (root / row["filename_video"]).unlink()
    return row["filename_video"], "referenced file must exist"


def rate_44k(root: Path, tmp: Path):
    row = first_train(root)
    sf.write(root / row["filename_audio"], tone(DUR, 44100), 44100, subtype="PCM_24")
    return row["filename_audio"], "audio sample rate must be 48000 Hz (found 44100)"


def mono(root: Path, tmp: Path):
    row = first_train(root)
    sf.write(root / row["filename_audio"], tone(DUR, channels=1), SR, subtype="PCM_24")
    return row["filename_audio"], "audio must have 2 channels (found 1)"


def short_audio(root: Path, tmp: Path):
    row = first_train(root)
    sf.write(root / row["filename_audio"], tone(DUR - 2.0), SR, subtype="PCM_24")  # "8-s" for 10-s clips
    return row["filename_audio"], "audio duration must be 3 s"


def truncated_wav(root: Path, tmp: Path):
    row = first_train(root)
    path = root / row["filename_audio"]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])  # header still declares the full length
    return row["filename_audio"], "audio must be readable to the end"


def corrupt_mp4(root: Path, tmp: Path):
    row = first_train(root)
    path = root / row["filename_video"]
    path.write_bytes(np.random.default_rng(0).integers(0, 256, path.stat().st_size, dtype=np.uint8).tobytes())
    return row["filename_video"], "video must be decodable to the end"


def short_video(root: Path, tmp: Path):
    row = first_train(root)
    frames = np.full((15, 48, 64, 3), 100, dtype=np.uint8)  # 1.5 s at 10 fps against 3-s audio
    write_mp4(root / row["filename_video"], frames, fps=10)
    return row["filename_video"], "video duration must match the audio duration"


def duplicate_row(root: Path, tmp: Path):
    frame = read(root, TRAIN)
    write(root, TRAIN, pd.concat([frame, frame.iloc[[2]]], ignore_index=True))
    return frame.iloc[2]["filename_audio"], f"clip must be listed only once in {TRAIN}"


def shared_location(root: Path, tmp: Path):
    """Rename an evaluate clip into the recording location of a train clip of the same scene."""
    train, evaluate = read(root, TRAIN), read(root, EVALUATE)
    clip = evaluate.iloc[0]
    scene = clip["scene_label"]
    donor = Path(train.loc[train["scene_label"] == scene, "filename_audio"].iloc[0]).stem.split("-")
    segment = Path(clip["filename_audio"]).stem.split("-")[-1]
    stem = f"{scene}-{donor[1]}-{donor[2]}-9{segment}"
    for column, folder, ext in (("filename_audio", "audio", "wav"), ("filename_video", "video", "mp4")):
        new = f"{folder}/{stem}.{ext}"
        (root / clip[column]).rename(root / new)
        set_everywhere(root, column, clip[column], new)
    meta = read(root, "meta.csv")
    meta.loc[meta["filename_audio"] == f"audio/{stem}.wav", "identifier"] = f"{donor[1]}-{donor[2]}"
    write(root, "meta.csv", meta)
    return f"audio/{stem}.wav", "train and evaluate must not share a recording location"


def in_both_splits(root: Path, tmp: Path):
    train = read(root, TRAIN)
    write(root, EVALUATE, pd.concat([read(root, EVALUATE), train.iloc[[1]]], ignore_index=True))
    return train.iloc[1]["filename_audio"], "clip must not be in both fold1_train and fold1_evaluate"


DEFECTS = [
    missing_column,
    unknown_label,
    bad_file_name,
    dotdot_path,
    absolute_path,
    symlink_outside,
    missing_file,
    rate_44k,
    mono,
    short_audio,
    truncated_wav,
    corrupt_mp4,
    short_video,
    duplicate_row,
    shared_location,
    in_both_splits,
]


@pytest.fixture
def dataset(synthetic_dataset, tmp_path) -> Path:
    root = tmp_path / "tau"
    shutil.copytree(synthetic_dataset, root, symlinks=True)
    return root


def run_validate(root: Path, report: Path, capsys) -> tuple[int, str]:
    code = main(["validate", "--data", str(root), "--report-dir", str(report)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("defect", DEFECTS, ids=[d.__name__ for d in DEFECTS])
def test_defect_is_reported(defect, dataset, tmp_path, capsys):
    offending, rule = defect(dataset, tmp_path)
    before = snapshot(dataset)
    code, err = run_validate(dataset, tmp_path / "rep", capsys)
    assert code == 1, err
    assert "Traceback" not in err
    lines = [line.strip() for line in err.splitlines()]
    assert any(line.startswith(f"{offending}: {rule}") for line in lines), err
    assert snapshot(dataset) == before
    report = json.loads((tmp_path / "rep" / "validation.json").read_text())
    assert report["valid"] is False
    assert any(p["file"] == offending and p["rule"].startswith(rule.split(" (")[0]) for p in report["problems"])


def test_valid_dataset_passes_and_writes_reports(dataset, tmp_path, capsys):
    before = snapshot(dataset)
    code, err = run_validate(dataset, tmp_path / "rep", capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert snapshot(dataset) == before
    report = json.loads((tmp_path / "rep" / "validation.json").read_text())
    assert report["valid"] is True and report["problems"] == []
    assert report["n_clips"] == len(read(dataset, "meta.csv"))
    assert report["gx_statistics"]["unsuccessful_expectations"] == 0
    docs = Path(report["data_docs"])
    assert docs.is_file() and docs.is_relative_to(tmp_path / "rep")
    assert list((tmp_path / "rep" / "data_docs" / "validations").rglob("*.html"))
    assert not [p for p in (tmp_path / "rep").iterdir() if p.name.startswith(".")]  # no temp files left


def test_missing_root_is_a_problem_not_a_traceback(tmp_path, capsys):
    code, err = run_validate(tmp_path / "nowhere", tmp_path / "rep", capsys)
    assert code == 1
    assert "dataset folder must exist" in err and "Traceback" not in err


def test_report_dir_inside_dataset_is_refused(dataset, tmp_path, capsys):
    before = snapshot(dataset)
    code, err = run_validate(dataset, dataset / "reports", capsys)
    assert code == 2
    assert "outside the dataset" in err and "Traceback" not in err
    assert snapshot(dataset) == before
