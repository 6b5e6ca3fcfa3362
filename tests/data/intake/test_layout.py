"""The TAU layout check of the entry commands: one line naming what is missing."""

from __future__ import annotations

import shutil

import pytest

from avsc.data.intake.layout import check_layout, missing_parts
from avsc.errors import DataError


def test_synthetic_sample_is_a_layout(tau_copy) -> None:
    dataset = check_layout(tau_copy)
    assert missing_parts(tau_copy) == []
    assert len(dataset.meta) == 40 and len(dataset.evaluate) > 0


def test_empty_folder_names_everything_missing(tmp_path) -> None:
    with pytest.raises(DataError) as err:
        check_layout(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message == (
        f"{tmp_path}: not a TAU Urban Audio-Visual Scenes 2021 layout: missing meta.csv, "
        "evaluation_setup/fold1_train.csv, evaluation_setup/fold1_evaluate.csv, audio/, video/"
    )


def test_missing_parts_only(tau_copy) -> None:
    shutil.rmtree(tau_copy / "video")
    (tau_copy / "evaluation_setup" / "fold1_evaluate.csv").unlink()
    with pytest.raises(DataError, match=r"missing evaluation_setup/fold1_evaluate\.csv, video/$"):
        check_layout(tau_copy)


def test_a_named_media_file_that_is_missing(tau_copy) -> None:
    victim = sorted((tau_copy / "video").glob("*.mp4"))[0]
    victim.unlink()
    with pytest.raises(DataError) as err:
        check_layout(tau_copy)
    assert f"video/{victim.name}" in str(err.value) and "referenced file must exist" in str(err.value)
    assert "\n" not in str(err.value)


def test_parent_folder_gets_a_hint(tau_copy) -> None:
    with pytest.raises(DataError, match=rf"\(did you mean {tau_copy}\?\)$"):
        check_layout(tau_copy.parent)


def test_not_a_folder(tmp_path) -> None:
    with pytest.raises(DataError, match="folder not found"):
        check_layout(tmp_path / "nope")
