"""``require_valid``: the gate of the stages after ``validate``, on real reports of the synthetic sample."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from avsc.data.validation.report import REPORT_FILE, require_valid
from avsc.data.validation.validate import validate_dataset
from avsc.errors import DataError


@pytest.fixture(scope="module")
def valid_report(synthetic_dataset: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("valid") / "validation"
    report = validate_dataset(synthetic_dataset, report_dir=folder, duration_s=3.0)
    assert report.valid, [str(p) for p in report.problems]
    return folder


def test_valid_report_passes_as_folder_or_file(valid_report: Path) -> None:
    content = require_valid(valid_report)
    assert content["valid"] is True and content["n_problems"] == 0 and content["n_clips"] == 40
    assert require_valid(valid_report / REPORT_FILE) == content
    assert require_valid(str(valid_report)) == content


def test_missing_report_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        require_valid(tmp_path / "reports" / "validation")
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'reports' / 'validation' / REPORT_FILE}: ")
    assert "validate" in message and "\n" not in message


@pytest.mark.timeout(60)
def test_invalid_dataset_report_is_refused(synthetic_dataset: Path, tmp_path: Path) -> None:
    """A FIFO named by fold1_train is reported (never opened) and the report does not pass the gate."""
    data = tmp_path / "tau"
    shutil.copytree(synthetic_dataset, data, symlinks=True)
    rel = "evaluation_setup/fold1_train.csv"
    frame = pd.read_csv(data / rel, sep="\t", dtype=str, keep_default_na=False)
    wav = frame.loc[0, "filename_audio"]
    (data / wav).unlink()
    os.mkfifo(data / wav)
    report = validate_dataset(data, report_dir=tmp_path / "rep", duration_s=3.0)
    assert not report.valid
    assert any(p.file == wav and p.rule == "referenced file must exist and be a regular file" for p in report.problems)
    with pytest.raises(DataError) as err:
        require_valid(tmp_path / "rep")
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'rep' / REPORT_FILE}: the dataset failed validation")
    assert f"({len(report.problems)} problem(s))" in message


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "not a readable validation report"),
        ("[]", "failed validation"),
        (json.dumps({"valid": "yes"}), "failed validation"),
        (json.dumps({"valid": False, "n_problems": 3}), "(3 problem(s))"),
    ],
)
def test_unreadable_or_not_valid_reports_are_refused(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / REPORT_FILE).write_text(content)
    with pytest.raises(DataError) as err:
        require_valid(tmp_path)
    assert str(err.value).startswith(str(tmp_path / REPORT_FILE)) and expected in str(err.value)
    assert "\n" not in str(err.value)
