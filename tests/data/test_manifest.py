"""``prepare`` checks every media path of meta.csv and the folds before it opens anything.

``/dev/zero``, a FIFO, a ``../`` escape or a symlink out of the dataset would hang the MD5 pass or
hash files that are not the dataset's: each is refused with one line naming the index file, its
row, the name and the rule, and nothing hangs (pytest-timeout).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from avsc.cli import main
from avsc.config.settings import load_params
from avsc.data.manifest import file_md5, prepare, read_manifest
from avsc.data.paths import NOT_REGULAR, OUTSIDE_ROOT
from avsc.errors import DataError

TRAIN = "evaluation_setup/fold1_train.csv"


@pytest.fixture
def workspace(tmp_path: Path, synthetic_dataset: Path) -> Path:
    """A repository folder whose dataset is a copy of the session's synthetic sample."""
    root = tmp_path / "repo"
    shutil.copytree(synthetic_dataset, root / "data" / "tau-synthetic", symlinks=True)
    (root / "params.yaml").write_text("data:\n  root: data/tau-synthetic\nvalidate:\n  duration_s: 3.0\n")
    return root


def rename(data: Path, rel: str, column: str, new: str) -> tuple[int, str]:
    """Point the first row of index file ``rel`` at ``new``; return (line number, the old name)."""
    frame = pd.read_csv(data / rel, sep="\t", dtype=str, keep_default_na=False)
    old = frame.loc[0, column]
    frame.loc[0, column] = new
    frame.to_csv(data / rel, sep="\t", index=False, lineterminator="\n")
    return 2, old


def fifo(data: Path, tmp: Path) -> tuple[str, str]:
    os.mkfifo(data / "video" / "fifo.mp4")
    return "video/fifo.mp4", NOT_REGULAR


def symlink_to_fifo(data: Path, tmp: Path) -> tuple[str, str]:
    os.mkfifo(data / "video" / "pipe")
    (data / "video" / "pipe.mp4").symlink_to(data / "video" / "pipe")
    return "video/pipe.mp4", NOT_REGULAR


def dev_zero(data: Path, tmp: Path) -> tuple[str, str]:
    return "/dev/zero", OUTSIDE_ROOT


def dotdot(data: Path, tmp: Path) -> tuple[str, str]:
    return "../../etc/passwd", OUTSIDE_ROOT


def symlink_outside(data: Path, tmp: Path) -> tuple[str, str]:
    (tmp / "secret.mp4").write_bytes(b"not the dataset's")
    (data / "video" / "leak.mp4").symlink_to(tmp / "secret.mp4")
    return "video/leak.mp4", OUTSIDE_ROOT


def symlink_dev_zero(data: Path, tmp: Path) -> tuple[str, str]:
    (data / "video" / "zero.mp4").symlink_to("/dev/zero")
    return "video/zero.mp4", OUTSIDE_ROOT


BAD = [fifo, symlink_to_fifo, dev_zero, dotdot, symlink_outside, symlink_dev_zero]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("index_file", ["meta.csv", TRAIN, "evaluation_setup/fold1_evaluate.csv"])
@pytest.mark.parametrize("bad", BAD, ids=[b.__name__ for b in BAD])
def test_prepare_refuses_unsafe_media_path(workspace: Path, tmp_path: Path, index_file: str, bad) -> None:
    data = workspace / "data" / "tau-synthetic"
    name, rule = bad(data, tmp_path)
    line, _ = rename(data, index_file, "filename_video", name)
    with pytest.raises(DataError) as err:
        prepare(load_params(workspace / "params.yaml"), workspace)
    message = str(err.value)
    assert message == f"{data / index_file} line {line}: filename_video {name!r}: {rule}"
    assert not (workspace / "data" / "manifest.json").exists()


@pytest.mark.timeout(30)
def test_cli_prepare_refusal_is_one_line(workspace: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    data = workspace / "data" / "tau-synthetic"
    name, rule = fifo(data, tmp_path)
    rename(data, TRAIN, "filename_audio", name.replace("video/", "audio/").replace(".mp4", ".wav"))
    os.mkfifo(data / "audio" / "fifo.wav")
    monkeypatch.setenv("AVSC_ROOT", str(workspace))
    assert main(["prepare"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("avsc prepare: error: ") and TRAIN in err[0]
    assert "'audio/fifo.wav'" in err[0] and rule in err[0]


def test_prepare_still_indexes_a_clean_dataset(workspace: Path) -> None:
    data = workspace / "data" / "tau-synthetic"
    target = data / "audio" / "inside-link-target.bin"
    line, old = rename(data, TRAIN, "filename_audio", "audio/link.wav")
    shutil.move(data / old, target)
    (data / "audio" / "link.wav").symlink_to(target)  # a symlink inside the root is fine
    for rel in ("meta.csv", "evaluation_setup/fold1_test.csv"):
        frame = pd.read_csv(data / rel, sep="\t", dtype=str, keep_default_na=False)
        frame.loc[frame["filename_audio"] == old, "filename_audio"] = "audio/link.wav"
        frame.to_csv(data / rel, sep="\t", index=False, lineterminator="\n")
    with pytest.raises(DataError, match="does not follow"):  # the clip name is checked after the path
        prepare(load_params(workspace / "params.yaml"), workspace)
    os.replace(data / "audio" / "link.wav", data / old)
    for rel in ("meta.csv", TRAIN, "evaluation_setup/fold1_test.csv"):
        frame = pd.read_csv(data / rel, sep="\t", dtype=str, keep_default_na=False)
        frame.loc[frame["filename_audio"] == "audio/link.wav", "filename_audio"] = old
        frame.to_csv(data / rel, sep="\t", index=False, lineterminator="\n")
    manifest = prepare(load_params(workspace / "params.yaml"), workspace)
    assert manifest["n_clips"] == 40
    assert manifest["files"][old] == file_md5(target)
    assert read_manifest(workspace / "data" / "manifest.json")["dataset_hash"] == manifest["dataset_hash"]
    assert json.loads((workspace / "data" / "manifest.json").read_text())["synthetic"] is True


@pytest.mark.timeout(30)
def test_file_md5_refuses_fifo_and_devices(tmp_path: Path) -> None:
    """The hash itself opens without blocking and checks the file type (a name swapped after the check)."""
    os.mkfifo(tmp_path / "fifo")
    for path in (tmp_path / "fifo", Path("/dev/zero"), tmp_path):
        with pytest.raises(DataError) as err:
            file_md5(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "f.bin").write_bytes(b"abc")
    assert file_md5(tmp_path / "f.bin") == "900150983cd24fb0d6963f7d28e17f72"
