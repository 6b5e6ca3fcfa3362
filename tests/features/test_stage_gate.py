"""The feature stages refuse to run unless ``validate`` wrote a report that says the dataset is valid."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avsc.config.settings import load_params
from avsc.data.manifest import prepare
from avsc.errors import DataError
from avsc.features.audio_stage import run_audio_stage
from avsc.features.visual_stage import run_visual_stage

REPORT = Path("reports") / "validation" / "validation.json"


@pytest.fixture
def prepared(tmp_path: Path, synthetic_dataset: Path) -> Path:
    """Prepared but not validated: manifest written, no validation report."""
    root = tmp_path / "repo"
    shutil.copytree(synthetic_dataset, root / "data" / "tau-synthetic")
    (root / "params.yaml").write_text("data:\n  root: data/tau-synthetic\nvalidate:\n  duration_s: 3.0\n")
    prepare(load_params(root / "params.yaml"), root)
    return root


@pytest.mark.parametrize("stage", [run_audio_stage, run_visual_stage], ids=["audio", "visual"])
def test_stage_refuses_without_a_valid_report(prepared: Path, stage) -> None:
    params = load_params(prepared / "params.yaml")
    with pytest.raises(DataError) as err:
        stage(params, prepared)
    assert str(err.value).startswith(f"{prepared / REPORT}: no dataset validation report")
    (prepared / REPORT).parent.mkdir(parents=True)
    (prepared / REPORT).write_text(json.dumps({"valid": False, "n_problems": 2}))
    with pytest.raises(DataError) as err:
        stage(params, prepared)
    assert str(err.value).startswith(f"{prepared / REPORT}: the dataset failed validation (2 problem(s))")
    assert not (prepared / "data" / "features").exists()  # refused before anything was written
