"""Predictions file, metrics.json, DVC CSVs, plots and the comparison document."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from avsc.data.tau import CLASSES
from avsc.evaluation.comparison import PUBLISHED, comparison_markdown, format_published, write_comparison
from avsc.evaluation.metrics import dcase_metrics
from avsc.evaluation.plots import confusion_figure, plot_confusion, plot_per_class_accuracy, plot_training_curves
from avsc.evaluation.reports import (
    predictions_frame,
    write_confusion_csv,
    write_metrics_json,
    write_per_class_csv,
    write_predictions,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def run() -> dict:
    rng = np.random.default_rng(7)
    n_clips = 20
    filenames = [f"audio/{CLASSES[i % 10]}-lisbon-1-{i}.wav" for i in range(n_clips) for _ in range(10)]
    segments = np.tile(np.arange(10), n_clips)
    y = np.array([i % 10 for i in range(n_clips) for _ in range(10)])
    heads = {}
    probas = {}
    for k, head in enumerate(("audio", "visual", "early", "late")):
        p = rng.dirichlet(np.ones(10), size=len(y))
        p[np.arange(len(y)), y] += 0.3 * k
        p /= p.sum(axis=1, keepdims=True)
        probas[head] = p
        heads[head] = dcase_metrics(y, p)
    return {"filenames": filenames, "segments": segments, "y": y, "heads": heads, "probas": probas}


def test_predictions_file_format(tmp_path, run):
    proba = run["probas"]["late"]
    frame = predictions_frame(run["filenames"], run["segments"], proba)
    path = tmp_path / "out" / "predictions.tsv"
    write_predictions(path, frame)
    lines = path.read_text().splitlines()
    assert lines[0] == "filename\tsegment\tscene_label\t" + "\t".join(CLASSES)
    assert lines[0] == (
        "filename\tsegment\tscene_label\tairport\tbus\tmetro\tmetro_station\tpark\t"
        "public_square\tshopping_mall\tstreet_pedestrian\tstreet_traffic\ttram"
    )
    assert len(lines) == 1 + len(run["y"])
    back = pd.read_csv(path, sep="\t")
    assert list(back.columns) == ["filename", "segment", "scene_label", *CLASSES]
    assert back["filename"].tolist() == run["filenames"]
    assert back["segment"].tolist() == run["segments"].tolist()
    values = back[list(CLASSES)].to_numpy()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(values, proba, rtol=1e-7, atol=1e-12)
    assert back["scene_label"].tolist() == [CLASSES[i] for i in proba.argmax(axis=1)]
    assert back["scene_label"].tolist() == [CLASSES[i] for i in values.argmax(axis=1)]
    assert not list(path.parent.glob(".*"))  # no temporary file left behind


def test_predictions_frame_rejects_mismatch(run):
    with pytest.raises(ValueError):
        predictions_frame(run["filenames"][:-1], run["segments"], run["probas"]["late"])


def test_metrics_json(tmp_path, run):
    path = tmp_path / "metrics.json"
    heads = dict(run["heads"])
    heads["audio"] = dict(heads["audio"], logloss=float("nan"))  # NaN must become null
    write_metrics_json(path, heads=heads, final_head="late", extra={"data": "synthetic", "final_head": "late"})
    text = path.read_text()
    assert "NaN" not in text
    doc = json.loads(text)
    assert list(doc)[:4] == ["accuracy", "logloss", "per_class", "heads"]
    assert doc["data"] == "synthetic" and doc["final_head"] == "late"
    late = run["heads"]["late"]
    assert doc["accuracy"] == pytest.approx(late["accuracy"])
    assert doc["logloss"] == pytest.approx(late["logloss"])
    assert 0.0 <= doc["accuracy"] <= 1.0
    assert set(doc["heads"]) == {"audio", "visual", "early", "late"}
    assert doc["heads"]["audio"]["logloss"] is None
    for head, block in doc["heads"].items():
        assert "confusion" not in block
        assert {"logloss", "accuracy", "overall_logloss", "overall_accuracy", "per_class"} <= set(block)
        if block["accuracy"] is not None:
            assert 0.0 <= block["accuracy"] <= 1.0
    assert list(doc["per_class"]) == list(CLASSES)
    for name, pc in doc["per_class"].items():
        assert set(pc) == {"logloss", "accuracy", "n"}
        assert 0.0 <= pc["accuracy"] <= 1.0
    with pytest.raises(ValueError):
        write_metrics_json(path, heads=heads, final_head="nope", extra={})
    assert text == path.read_text()  # failed call left the old file in place


def test_dvc_csvs(tmp_path, run):
    pc = tmp_path / "per_class.csv"
    write_per_class_csv(pc, run["heads"])
    frame = pd.read_csv(pc)
    assert list(frame.columns) == ["class", "head", "accuracy"]
    assert len(frame) == 10 * 4
    assert set(frame["head"]) == {"audio", "visual", "early", "late"}
    row = frame[(frame["class"] == "bus") & (frame["head"] == "early")]["accuracy"].item()
    assert row == pytest.approx(run["heads"]["early"]["per_class"]["bus"]["accuracy"], abs=1e-6)
    assert frame["accuracy"].between(0, 1).all()

    cm = tmp_path / "confusion.csv"
    true_names = [CLASSES[i] for i in run["y"]]
    pred_names = [CLASSES[i] for i in run["probas"]["late"].argmax(axis=1)]
    write_confusion_csv(cm, true_names, pred_names)
    back = pd.read_csv(cm)
    assert list(back.columns) == ["actual", "predicted"]
    assert back["actual"].tolist() == true_names and back["predicted"].tolist() == pred_names


def test_plots_are_non_empty_pngs(tmp_path, run):
    late = run["heads"]["late"]
    paths = [
        plot_confusion(tmp_path / "confusion.png", np.array(late["confusion"]), title="late fusion"),
        plot_per_class_accuracy(
            tmp_path / "per_class.png", {h: m["per_class"] for h, m in run["heads"].items()}, title="class-wise"
        ),
        plot_training_curves(
            tmp_path / "curves.png",
            {
                "loss": [2.0, 1.5, 1.2],
                "val_loss": [2.1, 1.7, 1.6],
                "accuracy": [0.2, 0.4, 0.5],
                "val_accuracy": [0.15, 0.3, 0.35],
                "learning_rate": [1e-3, 1e-3, 5e-4],
            },
            title="audio",
        ),
        plot_training_curves(tmp_path / "curves_nolr.png", {"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]}, title="no lr"),
    ]
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_confusion_figure_shows_counts_coloured_by_fraction():
    cm = np.zeros((10, 10), dtype=int)
    cm[0, 0], cm[0, 1], cm[3, 3] = 3, 1, 5
    fig = confusion_figure(cm, title="late fusion")
    ax = fig.axes[0]
    assert ax.get_title() == "late fusion"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASSES)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(CLASSES)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert cells[(0, 0)] == "3" and cells[(0, 1)] == "1" and cells[(3, 3)] == "5" and cells[(9, 9)] == "0"
    shown = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(shown[0, :2], [0.75, 0.25])  # colours: the row-normalised fractions
    assert shown[3, 3] == 1.0 and shown[5].sum() == 0.0  # a class without segments stays blank
    assert ax.images[0].get_clim() == (0.0, 1.0)


def _numbers(text: str) -> set[float]:
    import re

    return {float(x) for x in re.findall(r"(?<![\w.])\d+\.\d+", text)}


def test_published_numbers_come_from_their_sources(repo_root):
    """Every published number is printed in REFERENCE.md or in the seed paper its row cites."""
    shared = repo_root.parent / "shared"
    if not (shared / "REFERENCE.md").is_file():
        pytest.skip("../shared is not beside the repository")
    reference = _numbers((shared / "REFERENCE.md").read_text())
    joint = _numbers((shared / "seeds" / "joint-optimization_chen_2022.md").read_text())
    for row in PUBLISHED:
        source = joint | reference if "Chen" in row.source else reference
        for value in (row.logloss, row.accuracy):
            assert value is None or value in source, (row.system, value)
    heads = {r.head for r in PUBLISHED}
    assert heads == {"audio", "visual", "early", "late", "system"}
    assert len({r.system for r in PUBLISHED}) == len(PUBLISHED)


@pytest.mark.parametrize("synthetic", [True, False])
def test_comparison_markdown(tmp_path, run, synthetic):
    text = comparison_markdown(
        run_heads=run["heads"], feature_kind="gammatone", synthetic=synthetic, run_label="run-abc"
    )
    for number in [
        "1.048",
        "65.1",
        "1.648",
        "64.9",
        "0.963",
        "77.5",
        "0.658",
        "77.0",
        "69.0",
        "68.4",
        "87.0",
        "89.2",
        "88.5",
        "90.0",
        "88.7",
        "66.8",
        "83.2",
        "86.5",
        "0.318",
        "0.1517",
        "94.59",
        "0.195",
        "93.8",
    ]:
        assert f"| {number} |" in text, number
    for r in PUBLISHED:
        assert r.source in text
    assert "| system | source | log-loss | accuracy (%) |" in text
    assert text.count("| **this run** (run-abc) |") == 4
    late = run["heads"]["late"]
    assert f"{late['accuracy'] * 100:.1f}" in text and f"{late['logloss']:.3f}" in text
    assert ("not comparable" in text) is synthetic
    assert "published" in text.lower()
    path = write_comparison(tmp_path / "comparison.md", text)
    assert path.read_text().rstrip("\n") == text.rstrip("\n")


def test_comparison_missing_head_and_format():
    text = comparison_markdown(
        run_heads={"audio": {"logloss": 1.2345, "accuracy": 0.5}}, feature_kind="logmel", synthetic=False, run_label="r"
    )
    assert "(not run)" in text and "| 1.234 | 50.0 |" in text and "log-mel" in text
    assert format_published(90.0, min_decimals=1) == "90.0"
    assert format_published(0.1517, min_decimals=3) == "0.1517"
    assert format_published(None, min_decimals=1) == "–"
