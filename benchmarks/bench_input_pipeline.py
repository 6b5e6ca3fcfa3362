"""Training throughput: the real input pipeline (random 1-s crops + mixup, tf.data prefetch) fed from
memory and from disk (per-clip ``.npy`` files read on demand, the bounded-memory path of a large
split), against in-memory tensors, measured side by side in one run on this machine.

Prints samples per second for each and the ratios (aim: >= 0.9). Uses TAU-shaped RANDOM features
(audio (64, 500, 3) and visual (50, 512) per clip), so it needs no dataset.

    .venv/bin/python benchmarks/bench_input_pipeline.py [--clips 256] [--epochs 3] [--model audio|visual]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np


def _on_disk(data: np.ndarray, folder: Path):
    from avsc.training.arrays import ClipStack

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, clip in enumerate(data):
        paths.append(folder / f"c{i}.npy")
        np.save(paths[-1], clip)
    return ClipStack(paths, clip_shape=data.shape[1:], dtype=data.dtype)


def measure(*, clips: int = 256, epochs: int = 3, batch_size: int = 32, model: str = "audio") -> dict:
    """Samples per second of in-memory tensors, the pipeline from memory and the pipeline from disk."""
    import keras

    from avsc.config.models import SecrnnAudio, SecrnnVisual
    from avsc.config.settings import TrainSection
    from avsc.models.secrnn import build_audio_module, build_visual_module
    from avsc.systems.secrnn import Secrnn
    from avsc.training.arrays import ClipArrays, is_streamed
    from avsc.training.batches import training_dataset

    rng = np.random.default_rng(0)
    n = clips
    arrays = ClipArrays(
        clips=[f"c{i}" for i in range(n)],
        filenames=[f"audio/c{i}.wav" for i in range(n)],
        y=rng.integers(0, 10, n),
        n_seconds=10,
        audio=rng.standard_normal((n, 64, 500, 3), dtype=np.float32) if model == "audio" else None,
        audio_time_axis=1,
        audio_fps=50.0,
        visual=rng.standard_normal((n, 50, 512), dtype=np.float32) if model == "visual" else None,
        visual_fps=5,
    )
    system = Secrnn()
    cfg = TrainSection(batch_size=batch_size, crops_per_clip=1, mixup_alpha=0.4)

    def fresh_model():
        keras.utils.set_random_seed(0)
        m = build_audio_module(SecrnnAudio()) if model == "audio" else build_visual_module(SecrnnVisual())
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
        return m

    with tempfile.TemporaryDirectory(prefix="avsc-bench-pipeline-") as folder:
        disk = replace(arrays)
        if model == "audio":
            disk.audio = _on_disk(arrays.audio, Path(folder) / "audio")
        else:
            disk.visual = _on_disk(arrays.visual, Path(folder) / "visual")
        assert is_streamed(disk)
        # in-memory: the same number of batches, built once, as plain tensors
        batches = list(system.epoch_batches(model, arrays, cfg=cfg, rng=np.random.default_rng(1)))
        x_mem = np.concatenate([b[0] for b in batches])
        y_mem = np.concatenate([b[1] for b in batches])
        ds, steps = training_dataset(system, model, arrays, cfg=cfg, seed=1)
        ds_disk, _ = training_dataset(system, model, disk, cfg=cfg, seed=1)
        results: dict[str, float] = {}
        for name in ("in_memory", "pipeline", "pipeline_disk", "in_memory_2", "pipeline_2", "pipeline_disk_2"):
            m = fresh_model()
            if name.startswith("in_memory"):
                m.fit(x_mem[: batch_size * 2], y_mem[: batch_size * 2], epochs=1, verbose=0)  # warm-up
                start = time.perf_counter()
                m.fit(x_mem, y_mem, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=False)
            else:
                source = ds_disk if name.startswith("pipeline_disk") else ds
                m.fit(source, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up
                start = time.perf_counter()
                m.fit(source, steps_per_epoch=steps, epochs=epochs, verbose=0)
            results[name] = len(x_mem) * epochs / (time.perf_counter() - start)
    mem = max(results["in_memory"], results["in_memory_2"])
    pipe = max(results["pipeline"], results["pipeline_2"])
    disk_sps = max(results["pipeline_disk"], results["pipeline_disk_2"])
    return {
        "in_memory_sps": mem,
        "pipeline_sps": pipe,
        "pipeline_disk_sps": disk_sps,
        "ratio": pipe / mem,
        "ratio_disk_vs_memory_pipeline": disk_sps / pipe,
        "ratio_disk_vs_in_memory": disk_sps / mem,
        "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model", choices=["audio", "visual"], default="audio")
    args = parser.parse_args()
    r = measure(clips=args.clips, epochs=args.epochs, batch_size=args.batch_size, model=args.model)
    print(f"model={args.model} clips={args.clips} batch={args.batch_size} epochs={args.epochs}")
    print(f"{'in-memory tensors':<32}{r['in_memory_sps']:>10.1f} samples/s")
    print(f"{'avsc input pipeline (memory)':<32}{r['pipeline_sps']:>10.1f} samples/s")
    print(f"{'avsc input pipeline (disk)':<32}{r['pipeline_disk_sps']:>10.1f} samples/s")
    print(f"input pipeline / in-memory = {r['ratio']:.3f} (aim >= 0.9)")
    print(f"pipeline from disk / in-memory = {r['ratio_disk_vs_in_memory']:.3f} (aim >= 0.9)")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"input_pipeline_{args.model}.json").write_text(json.dumps({**r, **vars(args)}, indent=1))


if __name__ == "__main__":
    main()
