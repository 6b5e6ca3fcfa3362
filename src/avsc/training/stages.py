"""The training stages ``train_audio``, ``train_visual``, ``train_fusion`` and ``finetune``, for every
system: each is one MLflow run, resumable from its last per-epoch checkpoint. What a stage trains
is the active system's step (:mod:`avsc.systems`); the loop, checkpoints, tracking and reports
are the same for all.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from avsc.config.settings import Params, TrainSection, find_root, load_params
from avsc.data.manifest import read_manifest
from avsc.io import atomic_dir
from avsc.models.saving import MODEL_FILE, model_dir
from avsc.systems import get_system
from avsc.systems.base import STAGES, System
from avsc.training.arrays import load_split
from avsc.training.batches import training_dataset, validation_input
from avsc.training.fingerprint import training_fingerprint
from avsc.training.loop import Checkpoints, LoopState, TrainingLoop, backfill_metrics
from avsc.training.optimizers import build_optimizer, plateau_halving
from avsc.training.precision import build_with_precision

log = logging.getLogger(__name__)

#: A patience no run reaches: the learning-rate schedule, not the plateau rule, sets the rate.
NEVER = 10**9


def step_settings(params: Params, step: str) -> TrainSection:
    """The settings of ``step`` (``audio``, ``visual``, ``fusion``, ``finetune``)."""
    return params.train_section(STAGES[step])


def step_fingerprint(params: Params, root_dir: Path, step: str, cfg: TrainSection | None = None) -> str:
    """What a checkpoint of ``step`` must match to be resumed (system, settings, data, features, starting models)."""
    system = get_system(params.system)
    return training_fingerprint(
        params,
        root_dir,
        step=step,
        cfg=cfg or step_settings(params, step),
        modalities=system.modalities(step, params),
        starts_from=system.plan(step).starts_from,
    )


def compile_model(system: System, step: str, model: Any, *, cfg: TrainSection, steps_per_epoch: int) -> str:
    """The step's optimiser and categorical cross-entropy (on every trained output); returns the monitored key."""
    optimizer = build_optimizer(cfg, steps_per_epoch=steps_per_epoch)
    names = system.targets(step)
    if names:
        model.compile(
            optimizer=optimizer,
            loss={k: "categorical_crossentropy" for k in names},
            metrics={k: ["accuracy"] for k in names},
            jit_compile=cfg.jit_compile,
        )
    else:
        model.compile(
            optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"], jit_compile=cfg.jit_compile
        )
    return system.monitor(step)


def fit(
    params: Params,
    root_dir: Path,
    step: str,
    *,
    model: Any = None,
    cfg: TrainSection | None = None,
    callbacks: tuple = (),
    checkpoints: Checkpoints | None = None,
    log_mlflow: bool = True,
    run_id_holder: dict | None = None,
) -> tuple[Any, LoopState]:
    """Train ``step`` of the active system (resuming from ``checkpoints`` when they match). Returns (model, state).

    Without ``checkpoints``, epochs are checkpointed in a temporary folder (for the best weights).
    """
    import keras

    system = get_system(params.system)
    cfg = cfg or step_settings(params, step)
    keras.utils.set_random_seed(params.base.seed)
    modalities = system.modalities(step, params)
    train = load_split(params, root_dir, "train", modalities=modalities)
    val = load_split(params, root_dir, "validation", modalities=modalities)
    fp = step_fingerprint(params, root_dir, step, cfg)
    with _checkpoints_or_scratch(checkpoints) as ckpts:
        resumed = ckpts.load(fp)
        if resumed is not None:
            model = keras.saving.load_model(resumed.model, safe_mode=True)
            state = copy.deepcopy(resumed.state)
            log.info("%s: resuming from epoch %d (checkpoint %s)", STAGES[step], state.epoch, resumed.folder)
            if log_mlflow:
                backfill_metrics(state)
        else:
            if model is None:
                model = build_with_precision(lambda: system.build(step, params, root_dir), cfg)
            state = LoopState(fingerprint=fp, learning_rate=cfg.learning_rate)
            ckpts.clear()
        ds, steps = training_dataset(system, step, train, cfg=cfg, seed=params.base.seed, initial_epoch=state.epoch)
        if cfg.steps_per_epoch:  # counted in updates; the dataset yields micro-batches under accumulation
            steps = cfg.steps_per_epoch * cfg.gradient_accumulation_steps
        monitor = (
            compile_model(system, step, model, cfg=cfg, steps_per_epoch=steps)
            if state.epoch == 0
            else system.monitor(step)
        )
        if run_id_holder is not None:
            state.run_id = run_id_holder.get("run_id")
        halving = plateau_halving(cfg)
        loop = TrainingLoop(
            state=state,
            checkpoints=ckpts,
            monitor=monitor,
            patience_lr=cfg.reduce_lr_patience if halving else NEVER,
            factor=cfg.reduce_lr_factor,
            patience_stop=cfg.early_stop_patience,
            log_mlflow=log_mlflow,
        )
        if state.epoch < cfg.epochs and not (state.wait >= cfg.early_stop_patience):
            model.fit(
                ds,
                steps_per_epoch=steps,
                epochs=cfg.epochs,
                initial_epoch=state.epoch,
                validation_data=validation_input(system, step, val, batch_size=cfg.micro_batch_size),
                callbacks=[loop, *callbacks],
                verbose=2,
                shuffle=False,
            )  # the generator already shuffles (fresh windows every epoch)
        best = ckpts.current.best if ckpts.current is not None else None
        if best is not None:
            model.load_weights(best)
    return model, state


@contextmanager
def _checkpoints_or_scratch(checkpoints: Checkpoints | None) -> Iterator[Checkpoints]:
    if checkpoints is not None:
        yield checkpoints
        return
    with tempfile.TemporaryDirectory(prefix="avsc-fit-") as folder:
        yield Checkpoints(folder)


def stage_params(params: Params, step: str) -> dict:
    """What the stage's MLflow run records as params: the system, its step's settings, model and features."""
    system = params.system
    return {
        "system": system,
        "train": step_settings(params, step).model_dump(),
        "model": getattr(params.model, system).model_dump(),
        "seed": params.base.seed,
        "features": {"audio": params.audio_features.model_dump(), "visual": params.visual_features.model_dump()},
    }


def run_training_stage(params: Params, root_dir: Path | None, step: str) -> dict:
    """Run one step as a DVC stage: MLflow run, checkpoints, model and reports under models/<stage>/."""
    import mlflow

    from avsc.evaluation.plots import plot_training_curves
    from avsc.tracking.requirements import pip_requirements
    from avsc.tracking.runs import log_parent_metrics, stage_run

    root_dir = root_dir or find_root()
    system = get_system(params.system)
    plan = system.plan(step)
    cfg = step_settings(params, step)
    manifest = read_manifest(root_dir / params.data.manifest)
    out = model_dir(params, root_dir, plan.stage)
    checkpoints = Checkpoints(root_dir / "checkpoints" / plan.stage)
    committed = checkpoints.load(step_fingerprint(params, root_dir, step, cfg))
    previous = committed.state.run_id if committed is not None else None  # continue the killed run
    data_tag = manifest["data"]
    if data_tag == "synthetic":
        log.warning("%s: training on the SYNTHETIC sample; numbers are not comparable with TAU results", plan.stage)
    log.info("%s (%s): %s", plan.stage, system.name, plan.does)
    resume = previous if previous and _run_exists(previous, root_dir) else None
    with stage_run(
        stage=plan.stage,
        params=params,
        manifest=manifest,
        run_params=stage_params(params, step),
        lineage=plan.lineage,
        resume_run_id=resume,
        extra_tags={"backbone_pretrained": str(backbone_pretrained_flag(params, root_dir))},
        dataset_context="train",
    ) as run:
        model, state = fit(params, root_dir, step, checkpoints=checkpoints, run_id_holder={"run_id": run.info.run_id})
        if step == "finetune":
            model = system.final_model(model, params, root_dir)
        prefix = f"{system.primary_output(step)}_" if system.primary_output(step) else ""
        seconds = state.history.get("epoch_seconds", [])
        summary = {
            "epochs_run": state.epoch,
            "best_epoch": state.best_epoch + 1,
            "best_val_accuracy": state.best,
            "val_loss_at_best": _at(state.history, f"val_{prefix}loss", state.best_epoch),
            "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
        }
        info = {"stage": plan.stage, "system": system.name, "data": data_tag, "run_id": run.info.run_id}
        with atomic_dir(out) as tmp_dir:
            model.save(tmp_dir / MODEL_FILE)
            (tmp_dir / "history.json").write_text(json.dumps(history_records(state.history), indent=1))
            (tmp_dir / "metrics.json").write_text(json.dumps(summary, indent=1))
            (tmp_dir / "run.json").write_text(json.dumps(info, indent=1))
            plot_training_curves(
                tmp_dir / "curves.png",
                _curves(state.history, prefix),
                title=f"{plan.stage}: {system.name} ({data_tag})",
            )
        mlflow.log_metrics({"best_val_accuracy": state.best, "best_epoch": state.best_epoch + 1})
        if summary["seconds_per_epoch"] is not None:
            mlflow.log_metric("time/seconds_per_epoch", summary["seconds_per_epoch"])
            log_parent_metrics({f"{plan.stage}/seconds_per_epoch": summary["seconds_per_epoch"]})
        mlflow.log_artifact(str(out / "curves.png"))
        mlflow.log_artifact(str(out / "history.json"))
        mlflow.keras.log_model(model, name="model", pip_requirements=pip_requirements())
    checkpoints.clear()
    log.info("%s: best validation accuracy %.3f at epoch %d -> %s", plan.stage, state.best, state.best_epoch + 1, out)
    return {**summary, **info}


def history_records(history: dict[str, list[float]]) -> list[dict]:
    """Per-epoch records ``[{"step": 0, "loss": ..}, ..]`` (the layout ``dvc plots`` reads)."""
    n = max((len(v) for v in history.values()), default=0)
    return [{"step": i, **{k: v[i] for k, v in history.items() if i < len(v)}} for i in range(n)]


def _at(history: dict, key: str, index: int) -> float | None:
    values = history.get(key, [])
    return values[index] if 0 <= index < len(values) else None


def _curves(history: dict, prefix: str) -> dict:
    keys = {
        "loss": f"{prefix}loss",
        "val_loss": f"val_{prefix}loss",
        "accuracy": f"{prefix}accuracy",
        "val_accuracy": f"val_{prefix}accuracy",
        "learning_rate": "learning_rate",
    }
    return {name: history[k] for name, k in keys.items() if k in history}


def _run_exists(run_id: str, root_dir: Path | None = None) -> bool:
    import mlflow

    from avsc.tracking.service import configure

    try:
        configure()  # the project's store (DVC_ROOT), not MLflow's default or a store set earlier in-process
        mlflow.MlflowClient().get_run(run_id)
        return True
    except Exception:
        return False


def backbone_pretrained_flag(params: Params, root_dir: Path) -> bool:
    """Whether the visual features came from a pretrained backbone (the visual store says)."""
    from avsc.features.layout import VISUAL_DIR, feature_dir

    path = feature_dir(params, root_dir, VISUAL_DIR) / "manifest.json"
    if path.is_file():
        return bool(json.loads(path.read_text()).get("backbone_pretrained"))
    return params.visual_features.weights is not None


def cli_train(args) -> int:
    """``avsc train STEP``: run a training stage outside DVC."""
    run_training_stage(load_params(args.params), None, args.step)
    return 0
