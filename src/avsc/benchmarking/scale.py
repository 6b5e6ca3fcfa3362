"""``avsc bench scale``: each stage's per-clip cost at the active profile, projected to the full
development set (12,292 clips) on this machine, with peak memory.

Measured here, on a few clips:

- ``features_audio``: the system's audio front end on 10-s stereo 48-kHz noise (decoding the
  WAV file is not included), divided among ``features.workers`` processes (at most one per core);
- ``features_visual``: the frozen backbone on one clip's frames (``fps x 10`` random frames at
  ``image_size``; decoding and resizing 1280x720 video overlap with it in the stage and are not
  included);
- every training step: a few batches on a small fabricated workspace with the real feature shapes
  (:mod:`avsc.benchmarking.fabricate`), in a fresh process each (:mod:`avsc.benchmarking.memory`),
  projected over the step's ``epochs`` (the maximum: early stopping shortens it; per-epoch
  validation is not included).

Disk is the feature stores' size (models are small next to it).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avsc.benchmarking.fabricate import fabricate_workspace, feature_shapes, split_names
from avsc.benchmarking.memory import peak_rss_bytes
from avsc.benchmarking.projection import DEV_CLIPS, StageCost, project, table
from avsc.config.settings import Params
from avsc.systems.base import STAGES

log = logging.getLogger(__name__)


def audio_cost(params: Params, *, clips: int = 2) -> StageCost:
    """Seconds per clip of the audio front end; bytes per clip of its features."""
    from avsc.features.frontends import compute_audio

    rng = np.random.default_rng(0)
    seconds = params.validate_.duration_s
    noise = [rng.standard_normal((round(seconds * 48000), 2)).astype(np.float32) * 0.1 for _ in range(clips + 1)]
    compute_audio(noise[0], 48000, cfg=params.audio_features, duration_s=seconds)  # warm-up (filter design)
    started = time.perf_counter()
    for x in noise[1:]:
        feats = compute_audio(x, 48000, cfg=params.audio_features, duration_s=seconds)
    parallel = max(1, min(params.features.workers, os.cpu_count() or 1))  # the stage's worker processes
    per_clip = (time.perf_counter() - started) / clips / parallel
    return StageCost("features_audio", per_clip, bytes_per_clip=feats.nbytes, peak_rss_bytes=peak_rss_bytes())


def visual_cost(params: Params, *, clips: int = 1) -> StageCost:
    """Seconds per clip of the frozen backbone on the clip's frames; bytes per clip of embeddings (+ frames)."""
    from avsc.features.visual import embed_frames
    from avsc.models.backbone import build_backbone

    cfg = params.visual_features
    shapes = feature_shapes(params)
    backbone, _ = build_backbone(kind=cfg.backbone, image_size=cfg.image_size, quiet=True)
    n = shapes["visual"].shape[0]
    frames = np.random.default_rng(0).integers(0, 256, (n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    embed_frames(backbone, frames, batch_size=cfg.batch_size, kind=cfg.backbone)  # warm-up (tracing)
    started = time.perf_counter()
    for _ in range(clips):
        embed_frames(backbone, frames, batch_size=cfg.batch_size, kind=cfg.backbone)
    per_clip = (time.perf_counter() - started) / clips
    disk = sum(s.nbytes for m, s in shapes.items() if m in ("visual", "frames"))
    return StageCost("features_visual", per_clip, bytes_per_clip=disk, peak_rss_bytes=peak_rss_bytes())


def training_costs(params: Params, *, clips: int = 40, steps: int = 2) -> list[StageCost]:
    """Every training step's cost per clip and epoch, measured on a fabricated workspace of ``clips`` clips."""
    splits = split_names(DEV_CLIPS, validation_fraction=params.data.validation_fraction)
    train_fraction = splits.count("train") / DEV_CLIPS
    out = []
    with tempfile.TemporaryDirectory(prefix="avsc-bench-scale-") as folder:
        root = Path(folder)
        doc = params.model_dump(mode="json", by_alias=True)
        fabricate_workspace(root, doc, params, n_clips=clips)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        for step, stage in STAGES.items():
            run = subprocess.run(
                [sys.executable, "-m", "avsc.benchmarking.memory", str(root), step, "--steps", str(steps)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if run.returncode:
                log.warning("%s: not measured (%s)", stage, (run.stderr.strip().splitlines() or ["failed"])[-1])
                continue
            row = json.loads(run.stdout.strip().splitlines()[-1])
            out.append(
                StageCost(
                    stage,
                    row["seconds_per_step"] * row["batches_per_clip"],
                    peak_rss_bytes=round(row["peak_rss_gb"] * 1e9),
                    passes=row["epochs"],
                    fraction=train_fraction,
                )
            )
    return out


def scale_report(params: Params, *, label: str, clips: int = 40, steps: int = 2) -> tuple[str, list]:
    """Measure every stage at ``params`` and return (Markdown table, projections)."""
    costs = [audio_cost(params), visual_cost(params), *training_costs(params, clips=clips, steps=steps)]
    rows = project(costs, n_clips=DEV_CLIPS)
    cores = os.cpu_count()
    title = f"Full development set ({DEV_CLIPS} clips), {label}, system {params.system}, {cores} cores"
    return table(rows, title=title), rows


def cli_bench(args) -> int:
    """``avsc bench scale [--profile NAME] [--clips N] [--steps N] [--json]``."""
    from avsc.config.profiles import load_profile
    from avsc.config.settings import load_params

    params = load_profile(args.profile) if args.profile else load_params(args.params)
    if args.system:
        params = params.model_copy(update={"model": params.model.model_copy(update={"system": args.system})})
    label = f"profile {args.profile or params.base.profile}"
    text, rows = scale_report(params, label=label, clips=args.clips, steps=args.steps)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=1))
    else:
        print(text)
    return 0
