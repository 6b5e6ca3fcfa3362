"""A few training steps of one system step on a (fabricated) workspace, with the peak resident memory.

Run in a fresh process (``python -m avsc.benchmarking.memory ROOT STEP``) so the peak
(``ru_maxrss``) is this run's alone. The steps go through the training path the stages use:
:func:`avsc.training.arrays.load_split` (on disk above the in-memory limit),
:func:`avsc.training.batches.training_dataset` and ``validation_input``, the system's model and
:func:`avsc.training.stages.compile_model`.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)


def peak_rss_bytes() -> int:
    """This process's peak resident set size: ``VmHWM`` on Linux (``ru_maxrss`` elsewhere).

    Linux carries ``ru_maxrss`` across ``exec``, so a child started by a large parent would
    report the parent's peak; ``VmHWM`` belongs to the process's own address space.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def prepare_starting_models(params, root: Path, step: str) -> None:
    """Untrained models of the stages ``step`` starts from, and the visual store's backbone weights."""
    from avsc.features.layout import BACKBONE_FILE, VISUAL_DIR, feature_dir
    from avsc.models.backbone import build_backbone
    from avsc.models.saving import model_path
    from avsc.systems import get_system
    from avsc.systems.base import STAGES

    weights = feature_dir(params, root, VISUAL_DIR) / BACKBONE_FILE
    if not weights.is_file():
        cfg = params.visual_features
        backbone, _ = build_backbone(kind=cfg.backbone, image_size=cfg.image_size, quiet=True)
        weights.parent.mkdir(parents=True, exist_ok=True)
        backbone.save_weights(weights)
    system = get_system(params.system)
    by_stage = {v: k for k, v in STAGES.items()}
    for stage in system.plan(step).starts_from:
        path = model_path(params, root, stage)
        if not path.is_file():
            prepare_starting_models(params, root, by_stage[stage])
            path.parent.mkdir(parents=True, exist_ok=True)
            system.build(by_stage[stage], params, root).save(path)


def train_steps(root: Path, step: str, *, steps: int = 3, val_batches: int = 2) -> dict:
    """Train ``steps`` batches (plus ``val_batches`` validation batches) of ``step``; returns figures."""
    import keras

    from avsc.config.settings import load_params
    from avsc.systems import get_system
    from avsc.training.arrays import is_streamed, load_split
    from avsc.training.batches import training_dataset, validation_input
    from avsc.training.stages import compile_model, step_settings

    params = load_params(root / "params.yaml")
    system = get_system(params.system)
    cfg = step_settings(params, step)
    modalities = system.modalities(step, params)
    prepare_starting_models(params, root, step)
    after_models = peak_rss_bytes()
    train = load_split(params, root, "train", modalities=modalities)
    val = load_split(params, root, "validation", modalities=modalities)
    ds, per_epoch = training_dataset(system, step, train, cfg=cfg, seed=params.base.seed)
    keras.utils.set_random_seed(params.base.seed)
    model = system.build(step, params, root)
    compile_model(system, step, model, cfg=cfg, steps_per_epoch=per_epoch)
    vdata = validation_input(system, step, val, batch_size=cfg.micro_batch_size)
    model.fit(ds, steps_per_epoch=1, epochs=1, verbose=0, shuffle=False)  # warm-up: tracing, first batch
    started = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    train_s = time.perf_counter() - started
    if is_streamed(val):
        model.evaluate(vdata.take(val_batches), verbose=0)
    return {
        "system": params.system,
        "step": step,
        "modalities": list(modalities),
        "n_train": len(train),
        "n_validation": len(val),
        "streamed_train": is_streamed(train),
        "streamed_validation": is_streamed(val),
        "batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps,
        "steps": steps,
        "epochs": cfg.epochs,
        "batches_per_clip": per_epoch / len(train),
        "seconds_per_step": train_s / steps,
        "rss_before_data_gb": after_models / 1e9,
        "peak_rss_gb": peak_rss_bytes() / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("step", choices=["audio", "visual", "fusion", "finetune"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--val-batches", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(train_steps(args.root, args.step, steps=args.steps, val_batches=args.val_batches)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
