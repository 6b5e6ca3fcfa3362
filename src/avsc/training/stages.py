"""The SE-CRNN training stages (sec. 2.5): ``train_audio``, ``train_visual``, ``train_fusion``,
``finetune``. Each is one MLflow run, resumable from its last per-epoch checkpoint.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsc.config.settings import Params, TrainSection, find_root, load_params
from avsc.data.manifest import read_manifest
from avsc.data.media import atomic_path, atomic_write_text
from avsc.errors import DataError
from avsc.features.store import fingerprint
from avsc.training.inputs import OUTPUT_KEYS, load_split, segment_set, training_dataset
from avsc.training.loop import Checkpoints, LoopState, TrainingLoop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepSpec:
    """What differs between the four steps."""

    stage: str
    modalities: tuple[str, ...]
    fused: bool
    lineage: tuple[str, ...]
    model_params: tuple[str, ...]


STEPS = {
    "audio": StepSpec("train_audio", ("audio",), False, ("prepare", "features_audio"), ("audio",)),
    "visual": StepSpec("train_visual", ("visual",), False, ("prepare", "features_visual"), ("visual",)),
    "fusion": StepSpec("train_fusion", ("audio", "visual"), True,
                       ("prepare", "features_audio", "features_visual", "train_audio", "train_visual"),
                       ("audio", "visual", "fusion")),
    "finetune": StepSpec("finetune", ("audio", "visual"), True,
                         ("prepare", "features_audio", "features_visual", "train_fusion"),
                         ("audio", "visual", "fusion")),
}
MODEL_FILE = "model.keras"


def step_settings(params: Params, step: str) -> TrainSection:
    return getattr(params, STEPS[step].stage)


def model_dir(params: Params, root_dir: Path, stage: str) -> Path:
    return root_dir / params.base.models_dir / stage


def load_keras_model(path: Path):
    """Load a saved model in Keras safe mode."""
    import keras

    import avsc.models.secrnn  # noqa: F401  (registers avsc layers, if any)

    if not path.is_file():
        raise DataError(f"{path}: model not found; run the earlier training stages (`dvc repro`)")
    return keras.saving.load_model(path, safe_mode=True)


def build_model(params: Params, root_dir: Path, step: str):
    """A fresh model for ``step``; fusion and fine-tuning start from the earlier steps' models."""
    from avsc.models import secrnn

    m = params.model
    if step == "audio":
        return secrnn.build_audio_module(m.audio, n_bands=params.features.audio.n_bands)
    if step == "visual":
        return secrnn.build_visual_module(m.visual, steps=params.features.visual.fps)
    if step == "fusion":
        audio = load_keras_model(model_dir(params, root_dir, "train_audio") / MODEL_FILE)
        visual = load_keras_model(model_dir(params, root_dir, "train_visual") / MODEL_FILE)
        model = secrnn.build_fused_model(audio, visual, m.fusion)
        secrnn.set_trainable(model, step="fusion")
        return model
    model = load_keras_model(model_dir(params, root_dir, "train_fusion") / MODEL_FILE)
    secrnn.set_trainable(model, step="finetune")
    return model


def compile_model(model, *, fused: bool, learning_rate: float) -> str:
    """Adam + categorical cross-entropy (every head of the fused model); returns the monitored key."""
    import keras

    if fused:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss={k: "categorical_crossentropy" for k in OUTPUT_KEYS},
                      metrics={k: ["accuracy"] for k in OUTPUT_KEYS})
        return "val_late_accuracy"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return "val_accuracy"


def _validation(arrays, modalities, fused):
    from avsc.training.segments import one_hot

    x, y, _, _ = segment_set(arrays, modalities=modalities)
    y = one_hot(y)
    return x, ({k: y for k in OUTPUT_KEYS} if fused else y)


def fit(params: Params, root_dir: Path, step: str, *, model=None, cfg: TrainSection | None = None,
        callbacks: tuple = (), checkpoints: Checkpoints | None = None, log_mlflow: bool = True,
        run_id_holder: dict | None = None):
    """Train ``step`` (resuming from ``checkpoints`` when they match). Returns (model, state)."""
    import keras

    spec = STEPS[step]
    cfg = cfg or step_settings(params, step)
    keras.utils.set_random_seed(params.base.seed)
    train = load_split(params, root_dir, "train", modalities=spec.modalities)
    val = load_split(params, root_dir, "validation", modalities=spec.modalities)
    ds, steps = training_dataset(train, modalities=spec.modalities, batch_size=cfg.batch_size,
                                 crops_per_clip=cfg.crops_per_clip, mixup_alpha=cfg.mixup_alpha,
                                 seed=params.base.seed, n_outputs=4 if spec.fused else 1)
    fp = fingerprint({"cfg": cfg.model_dump(), "model": params.model.model_dump(), "seed": params.base.seed,
                      "n_train": len(train.clips), "n_val": len(val.clips), "step": step})
    state = checkpoints.load_state(fp) if checkpoints else None
    if state is not None:
        model = keras.saving.load_model(checkpoints.last, safe_mode=True)
        log.info("%s: resuming from epoch %d (checkpoint %s)", spec.stage, state.epoch, checkpoints.last)
        ds, steps = training_dataset(train, modalities=spec.modalities, batch_size=cfg.batch_size,
                                     crops_per_clip=cfg.crops_per_clip, mixup_alpha=cfg.mixup_alpha,
                                     seed=params.base.seed, n_outputs=4 if spec.fused else 1,
                                     initial_epoch=state.epoch)
    else:
        model = model if model is not None else build_model(params, root_dir, step)
        state = LoopState(fingerprint=fp, learning_rate=cfg.learning_rate)
        if checkpoints:
            checkpoints.clear()
    monitor = compile_model(model, fused=spec.fused, learning_rate=cfg.learning_rate) if state.epoch == 0 else (
        "val_late_accuracy" if spec.fused else "val_accuracy")
    if run_id_holder is not None:
        state.run_id = run_id_holder.get("run_id")
    loop = TrainingLoop(state=state, checkpoints=checkpoints or Checkpoints(root_dir / "checkpoints" / "_scratch"),
                        monitor=monitor, patience_lr=cfg.reduce_lr_patience, factor=cfg.reduce_lr_factor,
                        patience_stop=cfg.early_stop_patience, log_mlflow=log_mlflow)
    if state.epoch < cfg.epochs and not (state.wait >= cfg.early_stop_patience):
        model.fit(ds, steps_per_epoch=cfg.steps_per_epoch or steps, epochs=cfg.epochs, initial_epoch=state.epoch,
                  validation_data=_validation(val, spec.modalities, spec.fused), callbacks=[loop, *callbacks],
                  verbose=2, shuffle=False)  # the generator already shuffles (fresh crops every epoch)
    if loop.checkpoints.best.is_file():
        model.load_weights(loop.checkpoints.best)
    return model, state


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"tensorflow-cpu=={version('tensorflow-cpu')}", f"keras=={version('keras')}"]


def run_training_stage(params: Params, root_dir: Path | None, step: str) -> dict:
    """Run one step as a DVC stage: MLflow run, checkpoints, model and reports under models/<stage>/."""
    import mlflow

    from avsc.evaluation.plots import plot_training_curves
    from avsc.tracking.service import stage_run

    root_dir = root_dir or find_root()
    spec = STEPS[step]
    cfg = step_settings(params, step)
    manifest = read_manifest(root_dir / params.data.manifest)
    out = model_dir(params, root_dir, spec.stage)
    checkpoints = Checkpoints(root_dir / "checkpoints" / spec.stage)
    previous = json.loads((checkpoints.folder / "state.json").read_text()).get("run_id") if (
        checkpoints.folder / "state.json").is_file() else None
    fp_params = {"train": cfg.model_dump(), "model": {k: getattr(params.model, k).model_dump()
                                                      for k in spec.model_params},
                 "seed": params.base.seed, "features": params.features.model_dump()}
    data_tag = manifest["data"]
    if data_tag == "synthetic":
        log.warning("%s: training on the SYNTHETIC sample; numbers are not comparable with TAU results", spec.stage)
    resume = previous if previous and _run_exists(previous, root_dir) else None
    with stage_run(stage=spec.stage, system=params.model.system, data=data_tag, experiment=params.base.experiment,
                   params=fp_params, lineage=spec.lineage, resume_run_id=resume,
                   extra_tags={"dataset_hash": manifest["dataset_hash"],
                               "backbone_pretrained": str(backbone_pretrained_flag(params, root_dir))}) as run:
        model, state = fit(params, root_dir, step, checkpoints=checkpoints, run_id_holder={"run_id": run.info.run_id})
        tmp_dir = out.with_name(f".{out.name}.tmp")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
        model.save(tmp_dir / MODEL_FILE)
        summary = {
            "stage": spec.stage,
            "epochs_run": state.epoch,
            "best_epoch": state.best_epoch + 1,
            "best_val_accuracy": state.best,
            "val_loss_at_best": _at(state.history, "val_late_loss" if spec.fused else "val_loss", state.best_epoch),
            "data": data_tag,
            "run_id": run.info.run_id,
        }
        (tmp_dir / "history.json").write_text(json.dumps(history_records(state.history), indent=1))
        (tmp_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
        plot_training_curves(tmp_dir / "curves.png", _curves(state.history, spec.fused),
                             title=f"{spec.stage} ({data_tag})")
        if out.exists():
            shutil.rmtree(out)
        tmp_dir.rename(out)
        mlflow.log_metrics({"best_val_accuracy": state.best, "best_epoch": state.best_epoch + 1})
        mlflow.log_artifact(str(out / "curves.png"))
        mlflow.log_artifact(str(out / "history.json"))
        mlflow.keras.log_model(model, name="model", pip_requirements=_pip_requirements())
    checkpoints.clear()
    log.info("%s: best validation accuracy %.3f at epoch %d -> %s", spec.stage, state.best, state.best_epoch + 1, out)
    return summary


def history_records(history: dict[str, list[float]]) -> list[dict]:
    """Per-epoch records ``[{"step": 0, "loss": ..}, ..]`` (the layout ``dvc plots`` reads)."""
    n = max((len(v) for v in history.values()), default=0)
    return [{"step": i, **{k: v[i] for k, v in history.items() if i < len(v)}} for i in range(n)]


def _at(history: dict, key: str, index: int) -> float | None:
    values = history.get(key, [])
    return values[index] if 0 <= index < len(values) else None


def _curves(history: dict, fused: bool) -> dict:
    prefix = "late_" if fused else ""
    keys = {"loss": f"{prefix}loss", "val_loss": f"val_{prefix}loss", "accuracy": f"{prefix}accuracy",
            "val_accuracy": f"val_{prefix}accuracy", "learning_rate": "learning_rate"}
    return {name: history[k] for name, k in keys.items() if k in history}


def _run_exists(run_id: str, root_dir: Path | None = None) -> bool:
    import mlflow

    from avsc.tracking.service import configure

    try:
        configure(root_dir)  # the project's store, not MLflow's default (or a store set earlier in-process)
        mlflow.MlflowClient().get_run(run_id)
        return True
    except Exception:
        return False


def backbone_pretrained_flag(params: Params, root_dir: Path) -> bool:
    path = root_dir / params.base.features_dir / "visual" / "manifest.json"
    if path.is_file():
        return bool(json.loads(path.read_text()).get("backbone_pretrained"))
    return params.features.visual.weights is not None


def cli_train(args) -> int:
    run_training_stage(load_params(args.params), None, args.step)
    return 0
