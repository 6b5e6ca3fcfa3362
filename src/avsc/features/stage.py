"""The ``features_audio`` and ``features_visual`` DVC stages.

Both stream over the clips of the manifest (never holding the dataset in memory), write one array
per clip into a :class:`~avsc.features.store.FeatureStore`, resume after an interruption, and stop
on a corrupt clip with its file named (``features.on_error: stop``) or list it in
``skipped.json`` and exclude it (``features.on_error: skip``).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from avsc.config.settings import Params, find_root, load_params
from avsc.data.manifest import dataset_root, read_manifest
from avsc.data.media import atomic_path, atomic_write_text, decode_frames, read_audio
from avsc.errors import AvscError, DataError
from avsc.features.normalize import RunningStats, save_stats
from avsc.features.store import FeatureStore

log = logging.getLogger(__name__)
AUDIO_DIR = "audio"
VISUAL_DIR = "visual"
FRAMES_DIR = "frames"
BACKBONE_FILE = "backbone.weights.h5"


def _audio_job(args: tuple[str, str, dict, float]) -> tuple[str, str | None, tuple | None]:
    """Worker: one clip's audio features, saved to the store. Returns (clip, error, shape)."""
    from avsc.features.audio import clip_features

    clip, wav, cfg, duration_s = args
    store_dir = cfg.pop("_store")
    try:
        audio, sr = read_audio(wav)
        if audio.shape[1] != 2:
            raise DataError(f"{wav}: expected 2 channels, found {audio.shape[1]}")
        if audio.shape[0] < int(0.9 * duration_s * sr):
            raise DataError(f"{wav}: {audio.shape[0] / sr:.2f} s of audio, expected {duration_s:g} s")
        feats = clip_features(audio, sr, **cfg)
        FeatureStore(store_dir).save(clip, feats.astype(np.float32))
        return clip, None, feats.shape
    except AvscError as exc:
        return clip, str(exc), None
    except Exception as exc:  # a corrupt file can make any decoder fail
        return clip, f"{wav}: cannot compute features ({type(exc).__name__}: {exc})", None


def _handle_failures(failures: dict[str, str], *, on_error: str, folder: Path) -> None:
    if failures and on_error == "stop":
        clip, message = next(iter(failures.items()))
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise DataError(f"{message}{more}; set features.on_error: skip to exclude unreadable clips")
    atomic_write_text(folder / "skipped.json", json.dumps(failures, indent=1))
    for clip, message in failures.items():
        log.warning("skipped %s: %s", clip, message)


def _fit_train_stats(store: FeatureStore, clips: list[dict], failures: dict[str, str], *, stats: RunningStats,
                     min_std_ratio: float = 0.0) -> dict[str, list[int]]:
    """One streaming pass over the stored clips: their shapes, and ``stats.npz`` fitted on train only."""
    shapes = {}
    for c in clips:
        if c["clip"] in failures:
            continue
        arr = store.load(c["clip"], mmap=True)
        shapes[c["clip"]] = list(arr.shape)
        if c["split"] == "train":
            stats.update(arr)
    try:
        mean, std = stats.result(min_std_ratio=min_std_ratio)
    except ValueError:
        raise DataError(f"{store.folder}: no training clip has features; cannot fit normalisation") from None
    save_stats(store.folder / "stats.npz", mean=mean, std=std)
    return shapes


def run_audio_stage(params: Params, root_dir: Path | None = None) -> dict:
    """Compute log gammatone (or log-mel) features for every clip; fit normalisation on train."""
    root_dir = root_dir or find_root()
    manifest = read_manifest(root_dir / params.data.manifest)
    data_root = dataset_root(params, root_dir)
    cfg = params.features.audio.model_dump()
    store = FeatureStore(root_dir / params.base.features_dir / AUDIO_DIR)
    store.begin({"audio": cfg, "dataset_hash": manifest["dataset_hash"], "duration_s": params.validate_.duration_s})
    clips = manifest["clips"]
    todo = [c for c in clips if not store.has(c["clip"])]
    log.info("features_audio: %d clip(s), %d to compute, %s, %d worker(s)%s", len(clips), len(todo), cfg["kind"],
             params.features.workers, " [SYNTHETIC data]" if manifest["synthetic"] else "")
    jobs = [(c["clip"], str(data_root / c["filename_audio"]), {**cfg, "_store": str(store.folder)},
             params.validate_.duration_s) for c in todo]
    failures: dict[str, str] = {}
    with ProcessPoolExecutor(max_workers=params.features.workers) as pool:
        for clip, error, _shape in tqdm(pool.map(_audio_job, jobs, chunksize=1), total=len(jobs),
                                        desc="features_audio", unit="clip"):
            if error:
                failures[clip] = error
                if params.features.on_error == "stop":
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
    _handle_failures(failures, on_error=params.features.on_error, folder=store.folder)
    shapes = _fit_train_stats(store, clips, failures, stats=RunningStats(axis=1))
    result = {
        "stage": "features_audio",
        "dataset_hash": manifest["dataset_hash"],
        "data": manifest["data"],
        "params": cfg,
        "frames_per_second": int(round(1 / cfg["hop_s"])),
        "normalisation": "per band and channel, fitted on the train split only (stats.npz)",
        "n_clips": len(shapes),
        "skipped": sorted(failures),
        "shape": next(iter(shapes.values())) if shapes else None,
        "clips": shapes,
    }
    store.finish(result)
    log.info("features_audio: %d clip(s) of shape %s in %s", len(shapes), result["shape"], store.folder)
    return result


def _decode_job(args: tuple[str, str, int, int, float]) -> tuple[str, np.ndarray | None, str | None]:
    clip, mp4, fps, size, duration_s = args
    try:
        frames = decode_frames(mp4, fps=fps, size=(size, size), duration_s=duration_s)
        return clip, frames, None
    except AvscError as exc:
        return clip, None, str(exc)
    except Exception as exc:
        return clip, None, f"{mp4}: cannot decode ({type(exc).__name__}: {exc})"


def run_visual_stage(params: Params, root_dir: Path | None = None) -> dict:
    """Decode every clip at ``fps`` and cache frozen-backbone embeddings ``(n_frames, 512)``."""
    from avsc.models.backbone import build_visual_backbone, preprocess_frames

    root_dir = root_dir or find_root()
    manifest = read_manifest(root_dir / params.data.manifest)
    data_root = dataset_root(params, root_dir)
    vcfg = params.features.visual
    weights = vcfg.weights
    if weights and not Path(weights).is_absolute():
        weights = str(root_dir / weights)
    state = {"visual": vcfg.model_dump(), "dataset_hash": manifest["dataset_hash"], "duration_s": params.validate_.duration_s}
    store = FeatureStore(root_dir / params.base.features_dir / VISUAL_DIR)
    store.begin(state)
    frames_store = FeatureStore(root_dir / params.base.features_dir / FRAMES_DIR) if vcfg.keep_frames else None
    if frames_store:
        frames_store.begin(state)
    clips = manifest["clips"]
    todo = [c for c in clips if not store.has(c["clip"]) or (frames_store and not frames_store.has(c["clip"]))]
    import keras

    keras.utils.set_random_seed(params.base.seed)
    saved = store.folder / BACKBONE_FILE
    backbone, pretrained = build_visual_backbone(image_size=vcfg.image_size, weights_path=weights)
    if saved.is_file():  # resuming: the very backbone the finished clips were computed with
        backbone.load_weights(saved)
    else:
        with atomic_path(saved, suffix=".weights.h5") as tmp:
            backbone.save_weights(tmp)
    log.info("features_visual: %d clip(s), %d to compute, %d fps, %dx%d, backbone %s (%s)%s", len(clips), len(todo),
             vcfg.fps, vcfg.image_size, vcfg.image_size, vcfg.backbone,
             "pretrained" if pretrained else "RANDOM weights, frozen", " [SYNTHETIC data]" if manifest["synthetic"] else "")
    jobs = [(c["clip"], str(data_root / c["filename_video"]), vcfg.fps, vcfg.image_size, params.validate_.duration_s)
            for c in todo]
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=params.features.workers) as pool:
        for clip, frames, error in tqdm(pool.map(_decode_job, jobs), total=len(jobs), desc="features_visual",
                                        unit="clip"):
            if error:
                failures[clip] = error
                if params.features.on_error == "stop":
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
                continue
            if frames_store:
                frames_store.save(clip, frames)
            batch = preprocess_frames(frames)
            emb = np.concatenate([backbone(batch[i:i + vcfg.batch_size], training=False).numpy()
                                  for i in range(0, len(batch), vcfg.batch_size)])
            store.save(clip, emb.astype(np.float32))
    _handle_failures(failures, on_error=params.features.on_error, folder=store.folder)
    shapes = _fit_train_stats(store, clips, failures, stats=RunningStats(axis=0), min_std_ratio=1e-3)
    result = {
        "stage": "features_visual",
        "dataset_hash": manifest["dataset_hash"],
        "data": manifest["data"],
        "params": vcfg.model_dump(),
        "backbone_pretrained": pretrained,
        "normalisation": "per embedding dimension, fitted on the train split only (stats.npz)",
        "backbone_weights": weights,
        "n_clips": len(shapes),
        "skipped": sorted(failures),
        "shape": next(iter(shapes.values())) if shapes else None,
        "clips": shapes,
    }
    store.finish(result)
    if frames_store:
        frames_store.finish({**result, "stage": "features_visual/frames"})
    log.info("features_visual: %d clip(s) of shape %s in %s", len(shapes), result["shape"], store.folder)
    return result


def cli_features(args) -> int:
    params = load_params(args.params)
    (run_audio_stage if args.modality == "audio" else run_visual_stage)(params)
    return 0
