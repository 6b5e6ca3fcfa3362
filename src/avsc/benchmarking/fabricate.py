"""Fabricated feature workspaces: the real per-clip feature shapes of a profile, random values.

:func:`feature_shapes` computes the audio shape by running the active system's front end on 10 s
of noise (so it is the real shape, not a guess) and derives the visual shapes from the visual
settings; :func:`fabricate_workspace` writes a workspace (``params.yaml``, a manifest, finished
feature stores with statistics) the training stages read as if the feature stage had run. The
values are random: good for memory and speed measurements, meaningless for accuracy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from avsc.config.features import DualStreamAudioFeatures
from avsc.config.settings import Params
from avsc.data.manifest import MANIFEST_VERSION
from avsc.data.tau import CLASSES
from avsc.features.layout import AUDIO_DIR, FRAMES_DIR, STATS_FILE, VISUAL_DIR, feature_dir
from avsc.features.normalize import save_stats
from avsc.features.store import MARKER

#: Clips of the TAU Urban Audio-Visual Scenes 2021 development set, and of its fold1_evaluate.
DEV_CLIPS = 12_292
DEV_EVALUATE = 3_645


@dataclass(frozen=True)
class FeatureShape:
    """One modality's per-clip array."""

    shape: tuple[int, ...]
    dtype: str
    time_axis: int
    frames_per_second: float

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


def feature_shapes(params: Params, *, duration_s: float | None = None) -> dict[str, FeatureShape]:
    """Per-clip arrays of the active system at ``params``: ``audio``, ``visual`` and, when kept, ``frames``."""
    from avsc.features.frontends import audio_layout, compute_audio
    from avsc.models.backbone import embedding_dim

    seconds = duration_s or params.validate_.duration_s
    acfg, vcfg = params.audio_features, params.visual_features
    layout = audio_layout(acfg)
    if isinstance(acfg, DualStreamAudioFeatures) and acfg.kind == "embeddings":
        audio_shape: tuple[int, ...] = (round(seconds / acfg.hop_s), acfg.embedding_dim)
    else:
        noise = np.random.default_rng(0).standard_normal((round(seconds * 48000), 2)).astype(np.float32) * 0.1
        audio_shape = compute_audio(noise, 48000, cfg=acfg, duration_s=seconds).shape
    n_visual = round(seconds * vcfg.fps)
    out = {
        "audio": FeatureShape(tuple(audio_shape), "float32", layout.time_axis, layout.frames_per_second),
        "visual": FeatureShape((n_visual, embedding_dim(vcfg.backbone)), "float32", 0, vcfg.fps),
    }
    if vcfg.keep_frames:
        out["frames"] = FeatureShape((n_visual, vcfg.image_size, vcfg.image_size, 3), "uint8", 0, vcfg.fps)
    return out


def split_names(n_clips: int, *, validation_fraction: float = 0.1) -> list[str]:
    """The split of each clip, in the development set's proportions (fold1_evaluate ~ 29.7 %)."""
    n_eval = round(n_clips * DEV_EVALUATE / DEV_CLIPS)
    n_val = round((n_clips - n_eval) * validation_fraction)
    return ["train"] * (n_clips - n_eval - n_val) + ["validation"] * n_val + ["evaluate"] * n_eval


def fabricate_workspace(
    root: Path,
    params_doc: dict,
    params: Params,
    *,
    n_clips: int = DEV_CLIPS,
    shapes: dict[str, FeatureShape] | None = None,
    unique: int = 32,
    seed: int = 0,
) -> dict[str, int]:
    """Write a workspace of ``n_clips`` clips with random features; returns bytes written per modality.

    ``unique`` random arrays per modality are drawn and written in turn under every clip's name
    (each file is its own copy on disk: the reads are real). ``params_doc`` is written as the
    workspace's ``params.yaml``.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params_doc, sort_keys=False))
    shapes = shapes or feature_shapes(params)
    splits = split_names(n_clips, validation_fraction=params.data.validation_fraction)
    clips = [f"fab-{i:05d}" for i in range(n_clips)]
    rows = [
        {
            "clip": c,
            "split": s,
            "scene_label": CLASSES[i % len(CLASSES)],
            "identifier": f"loc-{i % 40}",
            "city": f"city{i % 10}",
            "filename_audio": f"audio/{c}.wav",
            "filename_video": f"video/{c}.mp4",
        }
        for i, (c, s) in enumerate(zip(clips, splits, strict=True))
    ]
    manifest_path = root / params.data.manifest
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "version": MANIFEST_VERSION,
        "data": "fabricated",
        "synthetic": True,
        "dataset_hash": f"fabricated-{n_clips}-{seed}",
        "clips": rows,
    }
    manifest_path.write_text(json.dumps(manifest))
    rng = np.random.default_rng(seed)
    written = {}
    folders = {"audio": AUDIO_DIR, "visual": VISUAL_DIR, "frames": FRAMES_DIR}
    for modality, fs in shapes.items():
        folder = feature_dir(params, root, folders[modality])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).write_text(json.dumps({"written_by": "avsc", "kind": "feature store"}))
        pool: list[np.ndarray]
        if fs.dtype == "uint8":
            pool = [rng.integers(0, 256, fs.shape, dtype=np.uint8) for _ in range(unique)]
        else:
            pool = [rng.standard_normal(fs.shape, dtype=np.float32) for _ in range(unique)]
        for i, clip in enumerate(clips):
            np.save(folder / f"{clip}.npy", pool[i % unique])
        if modality != "frames":
            stat_shape = tuple(n for k, n in enumerate(fs.shape) if k != fs.time_axis)
            save_stats(folder / STATS_FILE, mean=np.zeros(stat_shape, np.float32), std=np.ones(stat_shape, np.float32))
        doc = {
            "stage": "fabricated",
            "fingerprint": f"fabricated-{modality}",
            "params": {},
            "time_axis": fs.time_axis,
            "frames_per_second": fs.frames_per_second,
            "backbone_pretrained": False,
            "kept": modality == "frames",
            "skipped": [],
            "shape": list(fs.shape),
            "clips": {c: list(fs.shape) for c in clips},
        }
        (folder / "manifest.json").write_text(json.dumps(doc))
        written[modality] = fs.nbytes * n_clips
    return written
