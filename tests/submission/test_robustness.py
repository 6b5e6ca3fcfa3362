"""``avsc submission`` on bad input: a corrupt clip, an interrupted or killed run, a bad label or authors file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from avsc.cli import main
from avsc.data.tau import CLASSES
from avsc.submission.infer import ClipScorer

MODEL_URI = "models:/avsc-fused@challenger"
LABEL = "Doe_EXU_task1b_2"
OUTPUT = f"{LABEL}.output.csv"


def args(eval_dir: Path, out: Path, authors: Path, *extra: str) -> list[str]:
    return [
        "submission",
        "--eval-dir",
        str(eval_dir),
        "--label",
        LABEL,
        "--out",
        str(out),
        "--model",
        MODEL_URI,
        "--authors",
        str(authors),
        *extra,
    ]


@pytest.fixture
def corrupt_set(small_eval_set: Path, tmp_path: Path) -> Path:
    """A copy of the small set whose clip 3 has an MP4 that is not a video."""
    root = tmp_path / "evalset"
    shutil.copytree(small_eval_set, root)
    (root / "video" / "3.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    return root


@pytest.fixture
def workspace(trained_workspace, monkeypatch):
    trained_workspace.use(monkeypatch)
    return trained_workspace


def read_output(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / OUTPUT, sep="\t")


def test_corrupt_clip_stops_the_run_naming_the_file(workspace, corrupt_set, authors_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(args(corrupt_set, out, authors_file, "--chunk-size", "2")) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(corrupt_set / "video" / "3.mp4") in err and "--on-error uniform" in err
    assert not (out / OUTPUT).exists()
    assert sorted(p.name for p in (out / ".partial").glob("chunk-*.csv")) == ["chunk-000000.csv"]


def test_corrupt_clip_gets_the_uniform_distribution_and_is_listed(workspace, corrupt_set, authors_file, tmp_path):
    out = tmp_path / "out"
    assert main(args(corrupt_set, out, authors_file, "--on-error", "uniform")) == 0
    frame = read_output(out)
    assert list(frame["filename"]) == [f"{i}.wav" for i in range(6)]  # never fewer rows than clips
    np.testing.assert_allclose(frame.loc[3, list(CLASSES)].to_numpy(dtype=float), 0.1)
    assert not np.allclose(frame.loc[2, list(CLASSES)].to_numpy(dtype=float), 0.1)
    failed = pd.read_csv(out / f"{LABEL}.failed_clips.csv", sep="\t")
    assert list(failed["filename"]) == ["3.wav"]
    assert str(corrupt_set / "video" / "3.mp4") in failed.loc[0, "error"]


def test_missing_video_is_a_clip_failure_not_a_missing_row(workspace, small_eval_set, authors_file, tmp_path):
    root = tmp_path / "evalset"
    shutil.copytree(small_eval_set, root)
    (root / "video" / "5.mp4").unlink()
    out = tmp_path / "out"
    assert main(args(root, out, authors_file, "--on-error", "uniform")) == 0
    assert len(read_output(out)) == 6
    assert list(pd.read_csv(out / f"{LABEL}.failed_clips.csv", sep="\t")["filename"]) == ["5.wav"]


def test_resume_after_an_interruption_scores_only_the_missing_chunks(
    workspace, small_eval_set, authors_file, tmp_path, monkeypatch
):
    reference = tmp_path / "reference"
    assert main(args(small_eval_set, reference, authors_file, "--chunk-size", "2")) == 0

    calls: list[list[str]] = []
    score = ClipScorer.score

    def interrupted(self, clips):
        calls.append([c.filename for c in clips])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return score(self, clips)

    out = tmp_path / "out"
    monkeypatch.setattr(ClipScorer, "score", interrupted)
    assert main(args(small_eval_set, out, authors_file, "--chunk-size", "2")) == 130
    assert not (out / OUTPUT).exists()
    assert sorted(p.name for p in (out / ".partial").glob("chunk-*.csv")) == ["chunk-000000.csv"]

    calls.clear()
    monkeypatch.setattr(
        ClipScorer, "score", lambda self, clips: calls.append([c.filename for c in clips]) or score(self, clips)
    )
    assert main(args(small_eval_set, out, authors_file, "--chunk-size", "2")) == 0
    assert calls == [["2.wav", "3.wav"], ["4.wav", "5.wav"]]
    assert (out / OUTPUT).read_text() == (reference / OUTPUT).read_text()
    assert not (out / ".partial").exists()


def test_partial_results_of_another_run_are_refused(workspace, small_eval_set, authors_file, tmp_path, capsys):
    out = tmp_path / "out"
    (out / ".partial").mkdir(parents=True)
    (out / ".partial" / "state.json").write_text('{"model": "avsc-fused/99"}')
    assert main(args(small_eval_set, out, authors_file)) == 2
    err = capsys.readouterr().err
    assert ".partial: partial results of another run" in err and "model" in err


@pytest.fixture
def forty_clips(eval_set: Path, tmp_path: Path) -> Path:
    """Clips 0..39 of the main set as a plain folder (audio/, video/ without the test list): links, not copies."""
    root = tmp_path / "forty"
    for kind, ext in (("audio", "wav"), ("video", "mp4")):
        (root / kind).mkdir(parents=True)
        for i in range(40):
            (root / kind / f"{i}.{ext}").symlink_to(eval_set / kind / f"{i}.{ext}")
    return root


@pytest.mark.slow
def test_resume_after_kill(workspace, forty_clips, authors_file, tmp_path):
    """A real ``avsc submission`` process killed with SIGKILL between chunks; the next run continues."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "avsc", *args(forty_clips, out, authors_file, "--chunk-size", "10")]
    src = str(Path(__file__).parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / ".partial").glob("chunk-*.csv"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no chunk within 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    kept = len(list((out / ".partial").glob("chunk-*.csv")))
    assert 2 <= kept < 4 and not (out / OUTPUT).exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"resuming, {kept} of 4 chunks" in done.stderr
    assert list(read_output(out)["filename"]) == [f"{i}.wav" for i in range(40)]


def test_bad_label_and_authors_are_one_line_errors(workspace, small_eval_set, authors_file, tmp_path, capsys):
    out = tmp_path / "out"
    bad = args(small_eval_set, out, authors_file)
    bad[bad.index("--label") + 1] = "Doe_EXU_task1a_1"
    assert main(bad) == 2
    assert "--label 'Doe_EXU_task1a_1': expected Lastname_Institute_task1b_N" in capsys.readouterr().err
    two = tmp_path / "two.yaml"
    text = authors_file.read_text()
    two.write_text(
        text.replace(
            "authors:\n",
            "authors:\n  - {lastname: Roe, firstname: Ann, email: a@b.c, affiliation: EXU, corresponding: true}\n",
            1,
        )
    )
    assert main(args(small_eval_set, out, two)) == 2
    err = capsys.readouterr().err
    assert f"{two}:" in err and "exactly one author must have 'corresponding: true' (2 have)" in err
    assert not out.exists()
