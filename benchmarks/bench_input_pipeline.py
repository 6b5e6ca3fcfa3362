"""Training throughput: the real input pipeline (random 1-s crops + mixup, tf.data prefetch) against
in-memory tensors, measured side by side in one run on this machine.

Prints samples per second for each and their ratio (aim: >= 0.9). Uses TAU-shaped random features
(audio (64, 500, 3) and visual (50, 512) per clip), so it needs no dataset.

    .venv/bin/python benchmarks/bench_input_pipeline.py [--clips 256] [--epochs 3] [--model audio|fused]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", choices=["audio", "visual"], default="audio")
    args = parser.parse_args()

    import keras

    from avsc.config.models import SecrnnAudio, SecrnnVisual
    from avsc.config.settings import TrainSection
    from avsc.models.secrnn import build_audio_module, build_visual_module
    from avsc.systems.secrnn import Secrnn
    from avsc.training.arrays import ClipArrays
    from avsc.training.batches import training_dataset

    rng = np.random.default_rng(0)
    n = args.clips
    arrays = ClipArrays(
        clips=[f"c{i}" for i in range(n)],
        filenames=[f"audio/c{i}.wav" for i in range(n)],
        y=rng.integers(0, 10, n),
        n_seconds=10,
        audio=rng.standard_normal((n, 64, 500, 3), dtype=np.float32) if args.model == "audio" else None,
        audio_time_axis=1,
        audio_fps=50.0,
        visual=rng.standard_normal((n, 50, 512), dtype=np.float32) if args.model == "visual" else None,
        visual_fps=5,
    )
    system = Secrnn()
    cfg = TrainSection(batch_size=args.batch_size, crops_per_clip=1, mixup_alpha=0.4)

    def fresh_model():
        keras.utils.set_random_seed(0)
        model = build_audio_module(SecrnnAudio()) if args.model == "audio" else build_visual_module(SecrnnVisual())
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    # in-memory: the same number of batches, built once, as plain tensors
    batches = list(system.epoch_batches(args.model, arrays, cfg=cfg, rng=np.random.default_rng(1)))
    x_mem = np.concatenate([b[0] for b in batches])
    y_mem = np.concatenate([b[1] for b in batches])
    ds, steps = training_dataset(system, args.model, arrays, cfg=cfg, seed=1)
    results = {}
    for name in ("in_memory", "pipeline", "in_memory_2", "pipeline_2"):
        model = fresh_model()
        if name.startswith("in_memory"):
            model.fit(x_mem[: args.batch_size * 2], y_mem[: args.batch_size * 2], epochs=1, verbose=0)  # warm-up
            start = time.perf_counter()
            model.fit(x_mem, y_mem, batch_size=args.batch_size, epochs=args.epochs, verbose=0, shuffle=False)
        else:
            model.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up
            start = time.perf_counter()
            model.fit(ds, steps_per_epoch=steps, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        results[name] = len(x_mem) * args.epochs / seconds
    mem = max(results["in_memory"], results["in_memory_2"])
    pipe = max(results["pipeline"], results["pipeline_2"])
    ratio = pipe / mem
    print(f"model={args.model} clips={n} batch={args.batch_size} epochs={args.epochs}")
    print(f"{'in-memory tensors':<22}{mem:>10.1f} samples/s")
    print(f"{'avsc input pipeline':<22}{pipe:>10.1f} samples/s")
    print(f"input pipeline / in-memory = {ratio:.3f} (aim >= 0.9)")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"input_pipeline_{args.model}.json").write_text(
        json.dumps(
            {"in_memory_sps": mem, "pipeline_sps": pipe, "ratio": ratio, "runs": results, **vars(args)}, indent=1
        )
    )


if __name__ == "__main__":
    main()
