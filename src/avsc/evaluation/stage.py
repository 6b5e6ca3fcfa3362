"""The ``evaluate`` DVC stage: every head of the active system's final model on the 1-s segments of
fold1_evaluate, scored as DCASE 2021 Task 1B does, with reports, plots and an MLflow run.

``metrics.json`` holds numbers only (``dvc exp show`` / ``dvc metrics diff`` columns: ``logloss``,
``accuracy``, per head, per class, counts); what describes the run (system, data, head, dataset
hash) is in ``run.json`` beside it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

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
from avsc.heads import HEAD_NAMES
from avsc.io import atomic_write_text
from avsc.models.saving import load_keras_model, model_path
from avsc.systems import get_system
from avsc.systems.base import System, bounded_segment_scores
from avsc.training.arrays import load_split
from avsc.training.stages import backbone_pretrained_flag

log = logging.getLogger(__name__)


def final_head(params: Params, system: System) -> str:
    """``evaluate.final_head``, or the system's own final head when it is null."""
    head = params.evaluate.final_head or system.final_head
    if head not in system.heads:
        from avsc.errors import ConfigError

        raise ConfigError(f"evaluate.final_head {head!r}: system {system.name} has heads {', '.join(system.heads)}")
    return head


def feature_label(params: Params) -> str:
    """The audio feature kind of the active system (``gammatone``, ``logmel``, ``fbank`` ...)."""
    return str(getattr(params.audio_features, "kind", "?"))


def evaluate(params: Params, root_dir: Path | None = None) -> dict:
    """Run the evaluate stage; returns the metrics document."""
    import mlflow

    from avsc.tracking.runs import log_parent_metrics, stage_run

    root_dir = root_dir or find_root()
    system = get_system(params.system)
    manifest = read_manifest(root_dir / params.data.manifest)
    synthetic = manifest["synthetic"]
    out = root_dir / params.base.reports_dir / "evaluate"
    out.mkdir(parents=True, exist_ok=True)
    model = load_keras_model(model_path(params, root_dir, "finetune"))
    arrays = load_split(params, root_dir, "evaluate", modalities=system.modalities("finetune", params))
    scores = bounded_segment_scores(system, model, arrays, batch_size=params.evaluate.batch_size)
    heads = {name: dcase_metrics(scores.y, scores.probas[name]) for name in system.heads}
    final = final_head(params, system)
    filenames = [arrays.filenames[i] for i in scores.clip_index]
    write_predictions(out / "predictions.csv", predictions_frame(filenames, scores.segment, scores.probas[final]))
    n_evaluate = sum(c["split"] == "evaluate" for c in manifest["clips"])
    counts = {"n_segments": len(scores.y), "n_clips": len(arrays), "n_skipped": n_evaluate - len(arrays)}
    counts |= parameter_counts(model)
    write_metrics_json(out / "metrics.json", heads=heads, final_head=final, extra=counts)
    info = {
        "system": system.name,
        "final_head": final,
        "data": manifest["data"],
        "dataset_hash": manifest["dataset_hash"],
        "feature_kind": feature_label(params),
        "backbone": params.visual_features.backbone,
        "backbone_pretrained": backbone_pretrained_flag(params, root_dir),
        "profile": params.base.profile,
        **counts,
    }
    atomic_write_text(out / "run.json", json.dumps(info, indent=1) + "\n")
    write_per_class_csv(out / "per_class.csv", {HEAD_NAMES[k]: v for k, v in heads.items()})
    y_pred = scores.probas[final].argmax(axis=1)
    write_confusion_csv(out / "confusion.csv", [CLASSES[i] for i in scores.y], [CLASSES[i] for i in y_pred])
    label = "synthetic sample" if synthetic else "TAU fold1_evaluate"
    plot_confusion(
        out / "confusion_matrix.png",
        np.asarray(heads[final]["confusion"]),
        title=f"{system.name}, {HEAD_NAMES[final]}, 1-s segments ({label})",
    )
    plot_per_class_accuracy(
        out / "per_class_accuracy.png",
        {HEAD_NAMES[k]: v for k, v in heads.items()},
        title=f"{system.name}: class-wise accuracy per head ({label})",
    )
    text = comparison_markdown(
        run_heads=heads,
        feature_kind=feature_label(params),
        synthetic=synthetic,
        run_label=f"{system.name}, {params.base.profile} profile, {label}",
    )
    write_comparison(out / "comparison.md", text)
    doc = json.loads((out / "metrics.json").read_text())
    with stage_run(
        stage="evaluate",
        params=params,
        manifest=manifest,
        run_params=params.evaluate.model_dump(),
        lineage=tuple(dict.fromkeys((*system.plan("finetune").lineage, "finetune"))),
        extra_tags={"backbone_pretrained": str(info["backbone_pretrained"]), "final_head": final},
        dataset_context="evaluate",
    ):
        metrics = evaluate_metrics(doc, heads)
        mlflow.log_metrics(metrics)
        log_parent_metrics({k: v for k, v in metrics.items() if k.count("/") <= 1})
        for name in (
            "metrics.json",
            "run.json",
            "predictions.csv",
            "comparison.md",
            "confusion_matrix.png",
            "per_class_accuracy.png",
            "per_class.csv",
        ):
            mlflow.log_artifact(str(out / name), artifact_path="evaluate")
    if synthetic:
        log.warning("evaluate: SYNTHETIC sample; these numbers are not comparable with published TAU results")
    log.info(
        "evaluate: %s %s head log-loss %.3f, accuracy %.1f %% over %d segments (%s)",
        system.name,
        final,
        doc["logloss"],
        100 * doc["accuracy"],
        len(scores.y),
        ", ".join(f"{k} {100 * v['accuracy']:.1f} %" for k, v in heads.items()),
    )
    return {**doc, **info}


def parameter_counts(model: Any) -> dict[str, int]:
    """``params_total`` and ``params_trainable`` of the final model as it was fine-tuned (cached
    embeddings: the frozen image backbones are not part of it; see ``avsc model-summary`` for them)."""
    from avsc.models.counting import count_params

    counts = count_params(model)
    return {"params_total": counts["total"], "params_trainable": counts["trainable"]}


def evaluate_metrics(doc: dict, heads: dict[str, Any]) -> dict[str, float]:
    """MLflow metrics of the evaluate run: ``logloss``, ``accuracy`` (final head), ``<head>/<metric>``
    and ``<head>/<metric>/<class>``; undefined values are left out."""
    metrics: dict[str, Any] = {
        "logloss": doc["logloss"],
        "accuracy": doc["accuracy"],
        "params_total": doc.get("params_total"),
        "params_trainable": doc.get("params_trainable"),
    }
    for head, m in heads.items():
        metrics[f"{head}/logloss"] = m["logloss"]
        metrics[f"{head}/accuracy"] = m["accuracy"]
        for cls, values in m["per_class"].items():
            if values["accuracy"] is not None:
                metrics[f"{head}/accuracy/{cls}"] = values["accuracy"]
            if values["logloss"] is not None:
                metrics[f"{head}/logloss/{cls}"] = values["logloss"]
    return {k: float(v) for k, v in metrics.items() if v is not None and np.isfinite(v)}


def cli_evaluate(args) -> int:
    """``avsc evaluate``: run the evaluate stage outside DVC."""
    evaluate(load_params(args.params))
    return 0
