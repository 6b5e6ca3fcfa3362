"""The ``features_audio`` DVC stage: the active system's audio front end on every clip.

See :mod:`avsc.features.stage` for the store, resume and publish mechanics, and
:mod:`avsc.features.frontends` for the front end of each system.
"""

from __future__ import annotations

import logging
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from avsc.config.features import DualStreamAudioFeatures
from avsc.config.media import MediaLimits
from avsc.config.settings import Params, find_root
from avsc.data.manifest import dataset_root, read_manifest
from avsc.data.validation.report import require_valid
from avsc.errors import AvscError
from avsc.features.audio_file import audio_file_features
from avsc.features.failures import Failures
from avsc.features.frontends import AudioSettings, audio_layout, read_embeddings
from avsc.features.layout import AUDIO_DIR, feature_dir
from avsc.features.provenance import code_digest
from avsc.features.stage import fit_train_stats, open_work_store
from avsc.features.store import FeatureStore

log = logging.getLogger(__name__)


def _audio_job(args: tuple[str, str, AudioSettings, float, str, MediaLimits]) -> tuple[str, str | None]:
    """Worker: one clip's audio features, saved to the store. Returns (clip, error)."""
    clip, source, cfg, duration_s, store_dir, limits = args
    try:
        if isinstance(cfg, DualStreamAudioFeatures) and cfg.kind == "embeddings":
            feats = read_embeddings(source, cfg=cfg, duration_s=duration_s)
        else:
            feats = audio_file_features(source, cfg=cfg, duration_s=duration_s, limits=limits)
        FeatureStore(store_dir).save(clip, feats)
        return clip, None
    except AvscError as exc:
        return clip, str(exc)
    except Exception as exc:  # a corrupt file can make any decoder fail
        return clip, f"{source}: cannot compute features ({type(exc).__name__}: {exc})"


def _source(cfg: AudioSettings, data_root: Path, clip: dict) -> str:
    if isinstance(cfg, DualStreamAudioFeatures) and cfg.kind == "embeddings":
        if not cfg.embeddings_dir:
            raise AvscError("features.audio.dualstream.kind is embeddings but embeddings_dir is not set")
        return str(Path(cfg.embeddings_dir) / f"{clip['clip']}.npy")
    return str(data_root / clip["filename_audio"])


def run_audio_stage(params: Params, root_dir: Path | None = None) -> dict:
    """Compute the active system's audio features for every clip; fit normalisation on train."""
    root_dir = root_dir or find_root()
    require_valid(root_dir / params.validate_.report_dir)
    manifest = read_manifest(root_dir / params.data.manifest)
    data_root = dataset_root(params, root_dir)
    cfg = params.audio_features
    layout = audio_layout(cfg)
    state = {
        "system": params.system,
        "audio": cfg.model_dump(),
        "dataset_hash": manifest["dataset_hash"],
        "duration_s": params.validate_.duration_s,
        "code": code_digest(audio_file_features, read_embeddings),
    }
    store, fp = open_work_store(params, root_dir, AUDIO_DIR, state)
    clips = manifest["clips"]
    todo = [c for c in clips if not store.has(c["clip"])]
    log.info(
        "features_audio: %s front end (%s), %d clip(s), %d to compute, %d worker(s)%s",
        params.system,
        getattr(cfg, "kind", "?"),
        len(clips),
        len(todo),
        params.features.workers,
        " [SYNTHETIC data]" if manifest["synthetic"] else "",
    )
    jobs = [
        (c["clip"], _source(cfg, data_root, c), cfg, params.validate_.duration_s, str(store.folder), params.media)
        for c in todo
    ]
    failures = Failures(params, n_clips=len(clips), files={c["clip"]: c["filename_audio"] for c in clips})
    with ProcessPoolExecutor(max_workers=params.features.workers) as pool:
        for clip, error in tqdm(
            pool.map(_audio_job, jobs, chunksize=1), total=len(jobs), desc="features_audio", unit="clip"
        ):
            if error and failures.add(clip, error):
                pool.shutdown(wait=True, cancel_futures=True)
                break
    failures.settle(store.folder)
    shapes = fit_train_stats(store, clips, failures.errors, time_axis=layout.time_axis)
    result = {
        "stage": "features_audio",
        "system": params.system,
        "dataset_hash": manifest["dataset_hash"],
        "data": manifest["data"],
        "params": cfg.model_dump(),
        "time_axis": layout.time_axis,
        "frames_per_second": layout.frames_per_second,
        "normalisation": "per feature over time, fitted on the train split only (stats.npz)",
        "fingerprint": fp,
        "n_clips": len(shapes),
        "n_skipped": len(failures.errors),
        "skipped": sorted(failures.errors),
        "shape": next(iter(shapes.values())) if shapes else None,
        "clips": shapes,
    }
    store.finish(result)
    out = store.publish(feature_dir(params, root_dir, AUDIO_DIR))
    log.info("features_audio: %d clip(s) of shape %s in %s", len(shapes), result["shape"], out.folder)
    return result
