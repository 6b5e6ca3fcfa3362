"""The three throughput ratios of the scale issue, measured side by side in one run on this machine.

1. audio stage vs real time: the SE-CRNN paper front end (3-channel L, R, L-R gammatone, 64
   bands, 44.1 kHz) on the real clips in ``../shared/tau_audio``, with ``--workers`` processes as
   the stage runs it; seconds of audio per second of wall time (aim >= 200x on 2 cores);
2. visual stage vs backbone only at 224x224: the stage's loop (decoding and resizing 1280x720
   30-fps video in ``features.workers`` threads, bounded, overlapped with the frozen backbone)
   against the backbone alone on the same already-decoded frames (aim >= 0.9). The videos are
   synthetic (random blocks, H.264), written to a temp dir first;
3. training input pipeline from disk vs memory (``bench_input_pipeline.measure``; aim >= 0.9).

    .venv/bin/python benchmarks/bench_scale_ratios.py [--workers 2] [--videos 4] [--backbone vgg16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AUDIO = REPO.parent / "shared" / "tau_audio"
PAPER_AUDIO = dict(kind="gammatone", sample_rate=44100, n_bands=64, window_s=0.04, hop_s=0.02, f_min=50.0)


def _audio_job(path: str) -> float:
    from avsc.config.features import SecrnnAudioFeatures
    from avsc.data.media import read_audio
    from avsc.features.frontends import compute_audio

    audio, sr = read_audio(path)
    compute_audio(audio, sr, cfg=SecrnnAudioFeatures(**PAPER_AUDIO), duration_s=10.0)
    return audio.shape[0] / sr


def audio_ratio(*, workers: int, repeat: int = 2) -> dict:
    """Seconds of audio through the paper's gammatone front end per wall second (``workers`` processes)."""
    files = sorted(str(p) for p in AUDIO.glob("*.wav"))
    if not files:
        raise SystemExit(f"{AUDIO}: no real clips (*.wav) to time the audio stage on")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_audio_job, files[:workers]))  # warm-up: imports, filter design
        started = time.perf_counter()
        seconds = sum(pool.map(_audio_job, files * repeat))
        wall = time.perf_counter() - started
    return {"audio_seconds": seconds, "wall_seconds": wall, "x_real_time": seconds / wall, "workers": workers}


def _write_videos(folder: Path, n: int) -> list[str]:
    from avsc.data.media import write_mp4

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        blocks = rng.integers(0, 256, (300, 9, 16, 3), dtype=np.uint8)  # 30 fps x 10 s, 80-px blocks
        frames = np.repeat(np.repeat(blocks, 80, axis=1), 80, axis=2)  # 720 x 1280
        paths.append(str(folder / f"v{i}.mp4"))
        write_mp4(paths[-1], frames, fps=30)
    return paths


def visual_ratio(*, workers: int, videos: int, backbone: str, fps: int, size: int, rounds: int = 2) -> dict:
    """Clips per second of the visual stage's loop against the backbone alone on the same frames."""
    from avsc.config.media import MediaLimits
    from avsc.features.visual import embed_frames
    from avsc.features.visual_stage import decode_job, decoded_clips
    from avsc.models.backbone import build_backbone

    model, _ = build_backbone(kind=backbone, image_size=size, quiet=True)
    with tempfile.TemporaryDirectory(prefix="avsc-bench-video-") as folder:
        paths = _write_videos(Path(folder), videos)
        jobs = [(f"v{i}", p, fps, size, 10.0, MediaLimits()) for i, p in enumerate(paths)]
        decoded = [decode_job(j)[1] for j in jobs]  # decoded up front, not timed
        embed_frames(model, decoded[0], batch_size=50, kind=backbone)  # warm-up
        backbone_only = stage = 0.0
        for _ in range(rounds):  # alternated, so a change in the machine's load hits both sides alike
            started = time.perf_counter()
            for frames in decoded:
                embed_frames(model, frames, batch_size=50, kind=backbone)
            backbone_only += time.perf_counter() - started
            started = time.perf_counter()
            for _, frames, error in decoded_clips(jobs, workers=workers):  # the stage's own loop
                assert error is None, error
                embed_frames(model, frames, batch_size=50, kind=backbone)
            stage += time.perf_counter() - started
        decode_only = time.perf_counter()
        for job in jobs:
            decode_job(job)
        decode_only = time.perf_counter() - decode_only
    return {
        "clips": videos,
        "backbone": backbone,
        "image_size": size,
        "fps": fps,
        "rounds": rounds,
        "backbone_only_s_per_clip": backbone_only / (videos * rounds),
        "stage_s_per_clip": stage / (videos * rounds),
        "decode_only_s_per_clip": decode_only / videos,
        "ratio": backbone_only / stage,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--backbone", default="vgg16", choices=["vgg16", "resnet50", "efficientnetv2s"])
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--clips", type=int, default=256, help="clips of the input-pipeline measurement")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from bench_input_pipeline import measure

    audio = audio_ratio(workers=args.workers)
    print(f"audio: {audio['x_real_time']:.0f}x real time ({args.workers} workers)", flush=True)
    visual = visual_ratio(
        workers=args.workers, videos=args.videos, backbone=args.backbone, fps=args.fps, size=args.size
    )
    print(f"visual: stage / backbone-only = {visual['ratio']:.3f}", flush=True)
    pipe = measure(clips=args.clips, epochs=2)
    rows = [
        (
            "audio stage vs real time (3-ch gammatone)",
            f"{audio['x_real_time']:.0f}x",
            ">= 200x",
            audio["x_real_time"] >= 200,
        ),
        (
            f"visual stage vs backbone only ({args.backbone}, {args.size}px, {args.fps} fps)",
            f"{visual['ratio']:.3f}",
            ">= 0.9",
            visual["ratio"] >= 0.9,
        ),
        (
            "input pipeline from disk vs memory",
            f"{pipe['ratio_disk_vs_in_memory']:.3f}",
            ">= 0.9",
            pipe["ratio_disk_vs_in_memory"] >= 0.9,
        ),
    ]
    print()
    print(f"{'ratio':<58} {'measured':>9} {'target':>9}")
    for name, value, target, ok in rows:
        print(f"{name:<58} {value:>9} {target:>9}  {'ok' if ok else 'MISSED'}")
    print(
        f"(audio {audio['audio_seconds']:.0f} s of audio in {audio['wall_seconds']:.1f} s; visual per clip: "
        f"backbone {visual['backbone_only_s_per_clip']:.2f} s, stage {visual['stage_s_per_clip']:.2f} s, "
        f"decode alone {visual['decode_only_s_per_clip']:.2f} s; pipeline from memory "
        f"{pipe['pipeline_sps']:.0f}, from disk {pipe['pipeline_disk_sps']:.0f}, tensors {pipe['in_memory_sps']:.0f} "
        "samples/s)"
    )
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "scale_ratios.json").write_text(json.dumps({"audio": audio, "visual": visual, "pipeline": pipe}, indent=1))


if __name__ == "__main__":
    main()
