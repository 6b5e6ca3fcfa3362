"""The cached features of one split as arrays, normalised: what every system trains and evaluates on.

``ClipArrays`` holds, for the clips of a split, the audio features (the active system's layout,
see :mod:`avsc.features.frontends`), the visual embeddings ``(n, frames, dim)`` and, when asked,
the raw frames ``(n, frames, H, W, 3)`` uint8, with the frame rate of each and the labels. The
same class holds one clip's features for the registered model (:func:`clip_arrays`), so
evaluation and serving go through the same code.

Bounded memory: a split whose features exceed :data:`IN_MEMORY_LIMIT` bytes (or any split, with
``stream=True``) is not stacked in memory. Its arrays are :class:`ClipStack` objects over the
store's per-clip ``.npy`` files: indexing one (``audio[clip_index]``, ``audio[clip_index, frame]``)
reads and normalises only the clips asked for, so the training batches, validation batches and
scores are the same numbers as in memory while resident memory stays independent of the clip count.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial
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
#: A split whose feature arrays (all modalities) exceed this many bytes is read from disk on demand.
IN_MEMORY_LIMIT = 1024**3


def npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a ``.npy`` file from its header (the data is not read)."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(handle)
    return tuple(shape), np.dtype(dtype)


class ClipStack:
    """Per-clip ``.npy`` files as one read-only ``(n_clips, *clip_shape)`` array, read on demand.

    Indexing with clip indices (an int, a slice, an integer array of any shape, or a tuple whose
    first item is one of those) reads only those clips (each once, through ``transform``) and
    returns an ``np.ndarray`` equal to indexing the stacked in-memory array the same way.
    """

    def __init__(
        self,
        paths: list[Path],
        *,
        clip_shape: tuple[int, ...],
        dtype: np.dtype,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.clip_shape = tuple(clip_shape)
        self.dtype = np.dtype(dtype)
        self.transform = transform

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.paths), *self.clip_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.clip_shape)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * self.dtype.itemsize

    def __len__(self) -> int:
        return len(self.paths)

    def read(self, index: np.ndarray) -> np.ndarray:
        """The clips at ``index`` (1-D int array) stacked, through ``transform``."""
        out = np.empty((len(index), *self.clip_shape), dtype=self.dtype)
        for row, i in enumerate(index):
            clip = np.load(self.paths[int(i)])  # a plain read: no mapping left behind in resident memory
            out[row] = clip if self.transform is None else self.transform(clip)
        return out

    def take(self, index: np.ndarray) -> ClipStack:
        """The clips at ``index`` as another (lazy) stack."""
        return ClipStack(
            [self.paths[int(i)] for i in np.asarray(index).ravel()],
            clip_shape=self.clip_shape,
            dtype=self.dtype,
            transform=self.transform,
        )

    def __getitem__(self, key):
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, slice):
            first = np.arange(len(self))[first]
        first = np.asarray(first)
        if first.dtype == bool:
            first = np.flatnonzero(first)
        if first.ndim == 0:
            return self.read(first.reshape(1))[(0, *rest)]
        unique, inverse = np.unique(first, return_inverse=True)
        return self.read(unique)[(inverse.reshape(first.shape), *rest)]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self.read(np.arange(len(self)))
        return whole if dtype is None else whole.astype(dtype)


def take_clips(arr, index: np.ndarray):
    """``arr[index]`` for an in-memory array; a lazy sub-stack for a :class:`ClipStack`."""
    return arr.take(index) if isinstance(arr, ClipStack) else arr[index]


def is_streamed(arrays: ClipArrays) -> bool:
    """Whether any of the split's arrays is read from disk on demand."""
    return any(isinstance(a, ClipStack) for a in (arrays.audio, arrays.visual, arrays.frames))


def in_memory(arrays: ClipArrays) -> ClipArrays:
    """``arrays`` with every on-disk array read into memory (for a chunk of clips)."""
    return replace(
        arrays,
        audio=None if arrays.audio is None else np.asarray(arrays.audio),
        visual=None if arrays.visual is None else np.asarray(arrays.visual),
        frames=None if arrays.frames is None else np.asarray(arrays.frames),
    )


def clip_chunks(arrays: ClipArrays, *, size: int) -> Iterator[tuple[int, ClipArrays]]:
    """``(first clip, chunk)`` for consecutive chunks of at most ``size`` clips, each read into memory."""
    for start in range(0, len(arrays), size):
        yield start, in_memory(arrays.take(np.arange(start, min(start + size, len(arrays)))))


@dataclass
class ClipArrays:
    """Normalised features of a set of clips (see the module docstring)."""

    clips: list[str]
    filenames: list[str]
    y: np.ndarray
    n_seconds: int
    audio: np.ndarray | ClipStack | None = None
    audio_time_axis: int = 0
    audio_fps: float = 0.0
    visual: np.ndarray | ClipStack | None = None
    visual_fps: int = 1
    frames: np.ndarray | ClipStack | None = None

    def __len__(self) -> int:
        return len(self.clips)

    def take(self, index: np.ndarray) -> ClipArrays:
        """The clips at ``index`` (a view where numpy allows; still on disk for a :class:`ClipStack`)."""
        pick = [int(i) for i in index]
        return replace(
            self,
            clips=[self.clips[i] for i in pick],
            filenames=[self.filenames[i] for i in pick],
            y=self.y[index],
            audio=None if self.audio is None else take_clips(self.audio, index),
            visual=None if self.visual is None else take_clips(self.visual, index),
            frames=None if self.frames is None else take_clips(self.frames, index),
        )


def _headers(store: FeatureStore, clips: list[str]) -> tuple[tuple[int, ...], np.dtype]:
    """The clips' common shape and dtype (from the file headers); clips of different shapes are a DataError."""
    for clip in clips:
        if not store.has(clip):
            store.load(clip)  # the one-line "features missing" error
    headers = [npy_header(store.path(c)) for c in clips]
    usual = Counter(shape for shape, _ in headers).most_common(1)[0][0]
    for clip, (shape, _) in zip(clips, headers, strict=True):
        if shape != usual:
            raise DataError(
                f"{store.path(clip)}: features of shape {tuple(shape)}, other clips have {tuple(usual)}; "
                "re-run the feature stage (`dvc repro -f features_audio features_visual`)"
            )
    return usual, headers[0][1]


def _stack(
    store: FeatureStore,
    clips: list[str],
    transform: Callable[[np.ndarray], np.ndarray] | None,
    *,
    dtype: np.dtype | None = None,
) -> ClipStack:
    """The clips' arrays (each through ``transform``, of ``dtype``: the files' without one) as a lazy stack."""
    shape, stored = _headers(store, clips)
    return ClipStack([store.path(c) for c in clips], clip_shape=shape, dtype=dtype or stored, transform=transform)


def _stores(params: Params, root_dir: Path, modalities: tuple[str, ...]) -> dict[str, FeatureStore]:
    unknown = set(modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}")
    folders = {"audio": AUDIO_DIR, "visual": VISUAL_DIR, "frames": FRAMES_DIR}
    return {m: FeatureStore(feature_dir(params, root_dir, folders[m])) for m in modalities}


def load_split(
    params: Params, root_dir: Path, split: str, *, modalities: tuple[str, ...], stream: bool | None = None
) -> ClipArrays:
    """One split's cached features (only clips present in every requested store), normalised.

    ``stream``: True leaves the arrays on disk (:class:`ClipStack`), False stacks them in memory,
    None (default) streams when they exceed :data:`IN_MEMORY_LIMIT` bytes.
    """
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
    f32 = np.dtype(np.float32)
    if "audio" in stores:
        axis = int(docs["audio"].get("time_axis", 1))
        mean, std = load_stats(stores["audio"].folder / STATS_FILE)
        arrays.audio = _stack(
            stores["audio"], clips, partial(apply_stats, mean=mean, std=std, time_axis=axis), dtype=f32
        )
        arrays.audio_time_axis = axis
        arrays.audio_fps = float(docs["audio"]["frames_per_second"])
    if "visual" in stores:
        vmean, vstd = load_stats(stores["visual"].folder / STATS_FILE)
        arrays.visual = _stack(
            stores["visual"], clips, partial(apply_stats, mean=vmean, std=vstd, time_axis=0), dtype=f32
        )
        arrays.visual_fps = int(docs["visual"]["frames_per_second"])
    if "frames" in stores:
        arrays.frames = _stack(stores["frames"], clips, None)
        arrays.visual_fps = int(docs["frames"]["frames_per_second"])
    total = sum(a.nbytes for a in (arrays.audio, arrays.visual, arrays.frames) if a is not None)
    if stream is None:
        stream = total > IN_MEMORY_LIMIT
    if stream:
        log.info("%s split: %.1f GB of features, read from disk on demand", split, total / 1e9)
        return arrays
    return in_memory(arrays)


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
