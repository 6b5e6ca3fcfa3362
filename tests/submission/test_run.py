"""``avsc submission`` on a synthetic 1-s evaluation set: the package passes the validator's rules."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from avsc.cli import main
from avsc.data.tau import CLASSES

#: The trained workspace registers its SE-CRNN with this alias (it is never promoted there).
MODEL_URI = "models:/avsc-fused@challenger"
LABEL = "Doe_EXU_task1b_1"

#: N_CLIPS (60) clips: a few seconds to synthesise and score on 2 cores (after the trained workspace).
pytestmark = pytest.mark.slow


def n_clips(eval_dir: Path) -> int:
    return len(pd.read_csv(eval_dir / "evaluation_setup" / "fold1_test.csv", sep="\t"))


def run(eval_dir: Path, out: Path, authors: Path, *extra: str) -> int:
    return main(
        [
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
    )


@pytest.fixture(scope="module")
def submission(trained_workspace, eval_set, authors_file, tmp_path_factory) -> Path:
    """The output folder of one ``avsc submission`` run on the whole synthetic evaluation set."""
    out = tmp_path_factory.mktemp("submission") / "out"
    with pytest.MonkeyPatch.context() as mp:
        trained_workspace.use(mp)
        assert run(eval_set, out, authors_file) == 0
    return out


def test_writes_csv_yaml_and_zip(submission: Path) -> None:
    names = sorted(p.name for p in submission.iterdir())
    assert names == sorted([f"{LABEL}.meta.yaml", f"{LABEL}.output.csv", "Doe_EXU_task1.zip"])  # .partial removed
    with zipfile.ZipFile(submission / "Doe_EXU_task1.zip") as archive:
        assert sorted(archive.namelist()) == [
            f"Doe_EXU_task1/task1/{LABEL}/{LABEL}.meta.yaml",
            f"Doe_EXU_task1/task1/{LABEL}/{LABEL}.output.csv",
        ]
        assert (
            archive.read(f"Doe_EXU_task1/task1/{LABEL}/{LABEL}.output.csv")
            == (submission / f"{LABEL}.output.csv").read_bytes()
        )


def test_package_passes_the_validator_rules(submission: Path, eval_set: Path, validator) -> None:
    n = n_clips(eval_set)
    assert validator.check_package(submission / "Doe_EXU_task1.zip", expected_count=n) == []
    output, meta = submission / f"{LABEL}.output.csv", submission / f"{LABEL}.meta.yaml"
    assert validator.check_output(output.read_text(), expected_count=n) == []
    assert validator.check_meta(yaml.load(meta.read_text(), Loader=yaml.FullLoader)) == []
    assert validator.check_file_names(output.name, meta.name, LABEL) == []
    # the rules do catch a broken file
    assert validator.check_output(output.read_text(), expected_count=n + 1)
    broken = output.read_text().replace("\tbus\t", "\tbuses\t", 1)
    assert validator.check_output(broken, expected_count=n)


def test_one_row_per_clip_probabilities_sum_to_one(submission: Path, eval_set: Path) -> None:
    frame = pd.read_csv(submission / f"{LABEL}.output.csv", sep="\t")
    n = n_clips(eval_set)
    assert list(frame.columns) == ["filename", "scene_label", *CLASSES]
    assert list(frame["filename"]) == [f"{i}.wav" for i in range(n)]
    proba = frame[list(CLASSES)].to_numpy()
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert list(frame["scene_label"]) == [CLASSES[i] for i in proba.argmax(axis=1)]
    assert frame["scene_label"].nunique() > 1


def test_meta_comes_from_the_model_and_its_evaluate_run(submission: Path, trained_workspace, authors_file) -> None:
    meta = yaml.safe_load((submission / f"{LABEL}.meta.yaml").read_text())
    given = yaml.safe_load(authors_file.read_text())
    assert meta["submission"]["label"] == LABEL
    assert meta["submission"]["name"] == given["name"]
    assert meta["submission"]["abbreviation"] == given["abbreviation"]
    assert [a["lastname"] for a in meta["submission"]["authors"]] == [a["lastname"] for a in given["authors"]]
    assert meta["system"]["source_code"] == given["source_code"]
    evaluate = json.loads((trained_workspace.root / "reports" / "evaluate" / "metrics.json").read_text())
    dev = meta["results"]["development_dataset"]
    assert dev["overall"]["logloss"] == pytest.approx(evaluate["logloss"], abs=1e-5)
    assert dev["overall"]["accuracy"] == pytest.approx(100 * evaluate["accuracy"], abs=1e-3)
    for scene in CLASSES:
        expected = evaluate["per_class"][scene]
        if expected["accuracy"] is not None:
            assert dev["class_wise"][scene]["accuracy"] == pytest.approx(100 * expected["accuracy"], abs=1e-3)
    complexity = meta["system"]["complexity"]
    # the fine-tuned network as evaluated, plus the frozen backbone that makes its visual embeddings
    assert complexity["total_parameters"] > evaluate["params_total"]
    assert complexity["total_parameters_audio"] > 0 and complexity["total_parameters_visual"] > 0
    assert (
        complexity["total_parameters_audio"] + complexity["total_parameters_visual"] <= complexity["total_parameters"]
    )
    description = meta["system"]["description"]
    assert description["input_sampling_rate"] == "48kHz"
    assert description["acoustic_features"] == "gammatone"
    # the tiny workspace has no pretrained weights: no external image dataset is claimed
    assert meta["system"]["external_datasets"] == []
    assert description["data_augmentation"] == "mixup"
