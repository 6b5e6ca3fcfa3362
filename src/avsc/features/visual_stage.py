"""The ``features_visual`` DVC stage: frames at the active system's rate through its frozen backbone.

Writes ``<features_dir>/visual`` (``(n_frames, dim)`` embeddings per clip, the backbone's weights
and the normalisation statistics) and ``<features_dir>/frames`` (the decoded uint8 frames when
``keep_frames`` is on, for the systems that train on raw images; an empty store otherwise). See
:mod:`avsc.features.stage` for the store, resume and publish mechanics.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from avsc.config.media import MediaLimits
from avsc.config.settings import Params, find_root
from avsc.data.manifest import dataset_root, read_manifest
from avsc.data.media import decode_frames
from avsc.data.validation.report import require_valid
from avsc.errors import AvscError, ConfigError
from avsc.features.failures import Failures
from avsc.features.layout import BACKBONE_FILE, FRAMES_DIR, VISUAL_DIR, feature_dir
from avsc.features.parallel import bounded_map, lower_thread_priority
from avsc.features.provenance import code_digest, file_sha256
from avsc.features.stage import fit_train_stats, open_work_store
from avsc.io import atomic_path

log = logging.getLogger(__name__)


def decode_job(args: tuple[str, str, int, int, float, MediaLimits]) -> tuple[str, np.ndarray | None, str | None]:
    """Decode one clip's frames for a worker thread: ``(clip, frames, None)`` or ``(clip, None, error)``.

    ``args`` is ``(clip, mp4_path, fps, image_size, duration_s, limits)``; frames are uint8
    ``(n_frames, image_size, image_size, 3)``. Never raises, so one bad file cannot stop the pool.
    """
    clip, mp4, fps, size, duration_s, limits = args
    try:
        frames = decode_frames(mp4, fps=fps, size=(size, size), duration_s=duration_s, limits=limits)
        return clip, frames, None
    except AvscError as exc:
        return clip, None, str(exc)
    except Exception as exc:
        return clip, None, f"{mp4}: cannot decode ({type(exc).__name__}: {exc})"


def decoded_clips(
    jobs: list[tuple[str, str, int, int, float, MediaLimits]], *, workers: int
) -> Generator[tuple[str, np.ndarray | None, str | None], None, None]:
    """:func:`decode_job` results in order, decoded ahead by ``workers`` low-priority threads.

    At most ``2 * workers`` decoded clips wait for the consumer (bounded memory). The threads run at
    a lower priority (:func:`~avsc.features.parallel.lower_thread_priority`), so decoding and
    resizing fill the gaps the backbone leaves instead of slowing it down. Closing the generator
    cancels what has not started.
    """
    with ThreadPoolExecutor(max_workers=workers, initializer=lower_thread_priority) as pool:
        yield from bounded_map(pool, decode_job, jobs, max_in_flight=2 * workers)


def weights_path(params: Params, root_dir: Path) -> str | None:
    """The active system's backbone weights file (relative paths are relative to the repository), checked."""
    weights = params.visual_features.weights
    if not weights:
        return None
    path = Path(weights) if Path(weights).is_absolute() else root_dir / weights
    if not path.is_file():
        raise ConfigError(f"features.visual.{params.system}.weights: weights file not found: {path}")
    return str(path)


def run_visual_stage(params: Params, root_dir: Path | None = None) -> dict:
    """Decode every clip at ``fps`` and cache frozen-backbone embeddings ``(n_frames, dim)``."""
    from avsc.features.visual import embed_frames  # imports Keras: only in the visual stage
    from avsc.models.backbone import build_backbone

    root_dir = root_dir or find_root()
    require_valid(root_dir / params.validate_.report_dir)
    manifest = read_manifest(root_dir / params.data.manifest)
    data_root = dataset_root(params, root_dir)
    vcfg = params.visual_features
    weights = weights_path(params, root_dir)
    state = {
        "system": params.system,
        "visual": vcfg.model_dump(),
        "dataset_hash": manifest["dataset_hash"],
        "duration_s": params.validate_.duration_s,
        "weights_sha256": file_sha256(weights) if weights else None,
        "code": code_digest(decode_frames, embed_frames),
    }
    store, fp = open_work_store(params, root_dir, VISUAL_DIR, state)
    frames_store, _ = open_work_store(params, root_dir, FRAMES_DIR, state)
    clips = manifest["clips"]
    todo = [c for c in clips if not store.has(c["clip"]) or (vcfg.keep_frames and not frames_store.has(c["clip"]))]
    import keras

    keras.utils.set_random_seed(params.base.seed)
    saved = store.folder / BACKBONE_FILE
    backbone, pretrained = build_backbone(
        kind=vcfg.backbone,
        image_size=vcfg.image_size,
        weights_path=weights,
        setting=f"features.visual.{params.system}.weights",
    )
    if saved.is_file():  # resuming (same fingerprint, so same weights file): the very backbone of the finished clips
        backbone.load_weights(saved)
    else:
        with atomic_path(saved, suffix=".weights.h5") as tmp:
            backbone.save_weights(tmp)
    log.info(
        "features_visual: %d clip(s), %d to compute, %d fps, %dx%d, backbone %s (%s)%s",
        len(clips),
        len(todo),
        vcfg.fps,
        vcfg.image_size,
        vcfg.image_size,
        vcfg.backbone,
        "pretrained" if pretrained else "RANDOM weights, frozen",
        " [SYNTHETIC data]" if manifest["synthetic"] else "",
    )
    jobs = [
        (
            c["clip"],
            str(data_root / c["filename_video"]),
            vcfg.fps,
            vcfg.image_size,
            params.validate_.duration_s,
            params.media,
        )
        for c in todo
    ]
    failures = Failures(params, n_clips=len(clips), files={c["clip"]: c["filename_video"] for c in clips})
    decoded = decoded_clips(jobs, workers=params.features.workers)
    for clip, frames, error in tqdm(decoded, total=len(jobs), desc="features_visual", unit="clip"):
        if error:
            if failures.add(clip, error):
                break
            continue
        if vcfg.keep_frames:
            frames_store.save(clip, frames)
        store.save(clip, embed_frames(backbone, frames, batch_size=vcfg.batch_size, kind=vcfg.backbone))
    decoded.close()
    failures.settle(store.folder)
    shapes = fit_train_stats(store, clips, failures.errors, time_axis=0, min_std_ratio=1e-3)
    result = {
        "stage": "features_visual",
        "system": params.system,
        "dataset_hash": manifest["dataset_hash"],
        "data": manifest["data"],
        "params": vcfg.model_dump(),
        "time_axis": 0,
        "frames_per_second": vcfg.fps,
        "backbone": vcfg.backbone,
        "backbone_pretrained": pretrained,
        "normalisation": "per embedding dimension, fitted on the train split only (stats.npz)",
        "backbone_weights": weights,
        "backbone_weights_sha256": state["weights_sha256"],
        "fingerprint": fp,
        "n_clips": len(shapes),
        "n_skipped": len(failures.errors),
        "skipped": sorted(failures.errors),
        "shape": next(iter(shapes.values())) if shapes else None,
        "clips": shapes,
    }
    store.finish(result)
    frames_store.finish(
        {
            **{k: v for k, v in result.items() if k != "clips"},
            "stage": "features_visual/frames",
            "kept": vcfg.keep_frames,
            "clips": {c: [shape[0], vcfg.image_size, vcfg.image_size, 3] for c, shape in shapes.items()}
            if vcfg.keep_frames
            else {},
        }
    )
    out = store.publish(feature_dir(params, root_dir, VISUAL_DIR))
    frames_store.publish(feature_dir(params, root_dir, FRAMES_DIR))
    log.info("features_visual: %d clip(s) of shape %s in %s", len(shapes), result["shape"], out.folder)
    return result
