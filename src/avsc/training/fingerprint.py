"""What a training run depends on, as one fingerprint: a checkpoint is resumed only when it matches.

Settings alone are not enough: a stage must never resume onto other data (the dataset hash),
other features (their params and the feature stores' own fingerprints, which cover the feature
code and the backbone weights) or other starting models (later steps start from the earlier
steps' saved models).
"""

from __future__ import annotations

from pathlib import Path

from avsc.config.settings import Params, TrainSection
from avsc.data.manifest import read_manifest
from avsc.features.layout import AUDIO_DIR, FRAMES_DIR, VISUAL_DIR, feature_dir
from avsc.features.provenance import file_sha256
from avsc.features.store import FeatureStore, fingerprint
from avsc.models.saving import model_path

_FOLDERS = {"audio": AUDIO_DIR, "visual": VISUAL_DIR, "frames": FRAMES_DIR}


def training_inputs(
    params: Params, root_dir: Path, *, modalities: tuple[str, ...], starts_from: tuple[str, ...]
) -> dict:
    """The data, features and starting models a training step reads, identified by content hashes."""
    features = {}
    for modality in modalities:
        done = FeatureStore(feature_dir(params, root_dir, _FOLDERS[modality])).manifest()
        features[modality] = {
            "params": done.get("params"),
            "store_fingerprint": done.get("fingerprint"),
            "skipped": done.get("skipped", []),
        }
    return {
        "dataset_hash": read_manifest(root_dir / params.data.manifest)["dataset_hash"],
        "features": features,
        "starts_from": {stage: _sha_or_none(model_path(params, root_dir, stage)) for stage in starts_from},
    }


def _sha_or_none(path: Path) -> str | None:
    """A missing starting model is reported by the step that loads it."""
    return file_sha256(path) if path.is_file() else None


def training_fingerprint(
    params: Params,
    root_dir: Path,
    *,
    step: str,
    cfg: TrainSection,
    modalities: tuple[str, ...],
    starts_from: tuple[str, ...],
) -> str:
    """Fingerprint of one training step: the system, its settings, the seed and :func:`training_inputs`."""
    return fingerprint(
        {
            "system": params.system,
            "step": step,
            "cfg": cfg.model_dump(),
            "model": getattr(params.model, params.system).model_dump(),
            "seed": params.base.seed,
            "inputs": training_inputs(params, root_dir, modalities=modalities, starts_from=starts_from),
        }
    )
