"""The ``evaluate`` DVC stage: every head of the fused model on 1-s segments of fold1_evaluate,
scored as DCASE 2021 Task 1B does, with reports, plots and an MLflow run (``stage=evaluate``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from avsc.config.settings import Params, find_root, load_params
from avsc.data.manifest import read_manifest
from avsc.data.tau import CLASSES
from avsc.evaluation.comparison import comparison_markdown, write_comparison
from avsc.evaluation.metrics import dcase_metrics
from avsc.evaluation.plots import plot_confusion, plot_per_class_accuracy
from avsc.evaluation.reports import (
    predictions_frame,
    write_confusion_csv,
    write_metrics_json,
    write_per_class_csv,
    write_predictions,
)
from avsc.training.inputs import OUTPUT_KEYS, load_split, segment_set
from avsc.training.stages import MODEL_FILE, backbone_pretrained_flag, load_keras_model, model_dir

log = logging.getLogger(__name__)
HEAD_NAMES = {"audio": "audio only", "visual": "visual only", "early": "early fusion", "late": "late fusion"}


def predict_heads(model, inputs: dict, *, batch_size: int) -> dict[str, np.ndarray]:
    """Probabilities ``(n, 10)`` of every head of the fused model."""
    out = model.predict(inputs, batch_size=batch_size, verbose=0)
    return {k: np.asarray(out[k], dtype=np.float64) for k in OUTPUT_KEYS}


def evaluate(params: Params, root_dir: Path | None = None) -> dict:
    """Run the evaluate stage; returns the metrics document."""
    import mlflow

    from avsc.tracking.service import stage_run

    root_dir = root_dir or find_root()
    manifest = read_manifest(root_dir / params.data.manifest)
    synthetic = manifest["synthetic"]
    out = root_dir / params.base.reports_dir / "evaluate"
    out.mkdir(parents=True, exist_ok=True)
    model = load_keras_model(model_dir(params, root_dir, "finetune") / MODEL_FILE)
    arrays = load_split(params, root_dir, "evaluate", modalities=("audio", "visual"))
    inputs, y, clip_index, segment = segment_set(arrays, modalities=("audio", "visual"))
    probas = predict_heads(model, inputs, batch_size=params.evaluate.batch_size)
    heads = {name: dcase_metrics(y, p) for name, p in probas.items()}
    final = params.evaluate.final_head
    filenames = [arrays.filenames[i] for i in clip_index]
    write_predictions(out / "predictions.csv", predictions_frame(filenames, segment, probas[final]))
    extra = {"data": manifest["data"], "final_head": final, "n_segments": int(len(y)),
             "n_clips": len(arrays.clips), "dataset_hash": manifest["dataset_hash"],
             "feature_kind": params.features.audio.kind,
             "backbone_pretrained": backbone_pretrained_flag(params, root_dir)}
    write_metrics_json(out / "metrics.json", heads=heads, final_head=final, extra=extra)
    write_per_class_csv(out / "per_class.csv", {HEAD_NAMES[k]: v for k, v in heads.items()})
    y_pred = probas[final].argmax(axis=1)
    write_confusion_csv(out / "confusion.csv", [CLASSES[i] for i in y], [CLASSES[i] for i in y_pred])
    label = "synthetic sample" if synthetic else "TAU fold1_evaluate"
    plot_confusion(out / "confusion_matrix.png", np.asarray(heads[final]["confusion"]),
                   title=f"{HEAD_NAMES[final]}, 1-s segments ({label})")
    plot_per_class_accuracy(out / "per_class_accuracy.png", {HEAD_NAMES[k]: v for k, v in heads.items()},
                            title=f"Class-wise accuracy per head ({label})")
    text = comparison_markdown(run_heads=heads, feature_kind=params.features.audio.kind, synthetic=synthetic,
                               run_label=f"{params.model.system}, {params.base.profile} profile, {label}")
    write_comparison(out / "comparison.md", text)
    doc = json.loads((out / "metrics.json").read_text())
    with stage_run(stage="evaluate", system=params.model.system, data=manifest["data"],
                   experiment=params.base.experiment, params=params.evaluate.model_dump(),
                   lineage=("prepare", "features_audio", "features_visual", "finetune"),
                   extra_tags={"dataset_hash": manifest["dataset_hash"],
                               "backbone_pretrained": str(extra["backbone_pretrained"])}):
        metrics = {"logloss": doc["logloss"], "accuracy": doc["accuracy"]}
        for head, m in heads.items():
            metrics[f"{head}/logloss"] = m["logloss"]
            metrics[f"{head}/accuracy"] = m["accuracy"]
            for cls, values in m["per_class"].items():
                if values["accuracy"] is not None:
                    metrics[f"{head}/accuracy/{cls}"] = values["accuracy"]
                if values["logloss"] is not None:
                    metrics[f"{head}/logloss/{cls}"] = values["logloss"]
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None})
        for name in ("metrics.json", "predictions.csv", "comparison.md", "confusion_matrix.png",
                     "per_class_accuracy.png", "per_class.csv"):
            mlflow.log_artifact(str(out / name), artifact_path="evaluate")
    if synthetic:
        log.warning("evaluate: SYNTHETIC sample; these numbers are not comparable with published TAU results")
    log.info("evaluate: %s head log-loss %.3f, accuracy %.1f %% over %d segments (%s)", final, doc["logloss"],
             100 * doc["accuracy"], len(y), ", ".join(f"{k} {100 * v['accuracy']:.1f} %" for k, v in heads.items()))
    return doc


def cli_evaluate(args) -> int:
    evaluate(load_params(args.params))
    return 0
