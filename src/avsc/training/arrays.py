"""The cached features of one split as arrays, normalised: what every system trains and evaluates on.

``ClipArrays`` holds, for the clips of a split, the audio features (the active system's layout,
see :mod:`avsc.features.frontends`), the visual embeddings ``(n, frames, dim)`` and, when asked,
the raw frames ``(n, frames, H, W, 3)`` uint8, with the frame rate of each and the labels. The
same class holds one clip's features for the registered model (:func:`clip_arrays`), so
evaluation and serving go through the same code.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avsc.config.settings import Params
from avsc.data.manifest import read_manifest
from avsc.data.tau import CLASS_INDEX
from avsc.errors import DataError
from avsc.features.layout import AUDIO_DIR, FRAMES_DIR, STATS_FILE, VISUAL_DIR, feature_dir
from avsc.features.normalize import apply_stats, load_stats
from avsc.features.store import FeatureStore

log = logging.getLogger(__name__)

#: What a system may ask for: audio features, visual embeddings, raw frames.
MODALITIES = ("audio", "visual", "frames")


@dataclass
class ClipArrays:
    """Normalised features of a set of clips (see the module docstring)."""

    clips: list[str]
    filenames: list[str]
    y: np.ndarray
    n_seconds: int
    audio: np.ndarray | None = None
    audio_time_axis: int = 0
    audio_fps: float = 0.0
    visual: np.ndarray | None = None
    visual_fps: int = 1
    frames: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.clips)

    def take(self, index: np.ndarray) -> ClipArrays:
        """The clips at ``index`` (a view where numpy allows)."""
        pick = [int(i) for i in index]
        return replace(
            self,
            clips=[self.clips[i] for i in pick],
            filenames=[self.filenames[i] for i in pick],
            y=self.y[index],
            audio=None if self.audio is None else self.audio[index],
            visual=None if self.visual is None else self.visual[index],
            frames=None if self.frames is None else self.frames[index],
        )


def _stack(store: FeatureStore, clips: Iterable[str], transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The clips' arrays (each through ``transform``) stacked; clips of different shapes are a DataError."""
    names = list(clips)
    arrays = [transform(store.load(c, mmap=True)) for c in names]
    usual = Counter(a.shape for a in arrays).most_common(1)[0][0]
    for clip, arr in zip(names, arrays, strict=True):
        if arr.shape != usual:
            raise DataError(
                f"{store.path(clip)}: features of shape {tuple(arr.shape)}, other clips have {tuple(usual)}; "
                "re-run the feature stage (`dvc repro -f features_audio features_visual`)"
            )
    return np.stack(arrays)


def _stores(params: Params, root_dir: Path, modalities: tuple[str, ...]) -> dict[str, FeatureStore]:
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}")
    folders = {"audio": AUDIO_DIR, "visual": VISUAL_DIR, "frames": FRAMES_DIR}
    return {m: FeatureStore(feature_dir(params, root_dir, folders[m])) for m in modalities}


def load_split(params: Params, root_dir: Path, split: str, *, modalities: tuple[str, ...]) -> ClipArrays:
    """One split's cached features (only clips present in every requested store), normalised."""
    manifest = read_manifest(root_dir / params.data.manifest)
    stores = _stores(params, root_dir, modalities)
    docs = {m: s.manifest() for m, s in stores.items()}
    if "frames" in docs and not docs["frames"].get("kept"):
        raise DataError(
            f"{stores['frames'].folder}: no raw frames cached; set features.visual.{params.system}.keep_frames: true "
            "and re-run `dvc repro features_visual`"
        )
    available: set[str] | None = None
    for doc in docs.values():
        have = set(doc["clips"])
        available = have if available is None else available & have
    rows = [c for c in manifest["clips"] if c["split"] == split and c["clip"] in (available or set())]
    if not rows:
        raise DataError(f"no {split} clips with features in {root_dir / params.base.features_dir}; run `dvc repro`")
    clips = [r["clip"] for r in rows]
    arrays = ClipArrays(
        clips=clips,
        filenames=[r["filename_audio"] for r in rows],
        y=np.array([CLASS_INDEX[r["scene_label"]] for r in rows], dtype=np.int64),
        n_seconds=max(1, round(params.validate_.duration_s)),
    )
    if "audio" in stores:
        axis = int(docs["audio"].get("time_axis", 1))
        mean, std = load_stats(stores["audio"].folder / STATS_FILE)
        arrays.audio = _stack(stores["audio"], clips, lambda a: apply_stats(a, mean=mean, std=std, time_axis=axis))
        arrays.audio_time_axis = axis
        arrays.audio_fps = float(docs["audio"]["frames_per_second"])
    if "visual" in stores:
        vmean, vstd = load_stats(stores["visual"].folder / STATS_FILE)
        arrays.visual = _stack(stores["visual"], clips, lambda a: apply_stats(a, mean=vmean, std=vstd, time_axis=0))
        arrays.visual_fps = int(docs["visual"]["frames_per_second"])
    if "frames" in stores:
        arrays.frames = _stack(stores["frames"], clips, np.asarray)
        arrays.visual_fps = int(docs["frames"]["frames_per_second"])
    return arrays


def clip_arrays(
    *,
    name: str,
    n_seconds: int,
    audio: np.ndarray | None = None,
    audio_time_axis: int = 0,
    audio_fps: float = 0.0,
    visual: np.ndarray | None = None,
    visual_fps: int = 1,
    frames: np.ndarray | None = None,
) -> ClipArrays:
    """One clip's (already normalised) features as :class:`ClipArrays` (label unknown: -1)."""

    def one(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else x[None]

    return ClipArrays(
        clips=[name],
        filenames=[name],
        y=np.array([-1]),
        n_seconds=n_seconds,
        audio=one(audio),
        audio_time_axis=audio_time_axis,
        audio_fps=audio_fps,
        visual=one(visual),
        visual_fps=visual_fps,
        frames=one(frames),
    )
