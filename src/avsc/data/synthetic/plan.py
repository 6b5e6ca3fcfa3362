"""Which clips to write: names, recording locations, folds, and the random stream of each clip.

Everything is derived from the seed through :class:`numpy.random.SeedSequence` spawn keys, one
family per purpose, so a clip's content does not depend on how many clips are written or in which
order or process:

===============  ==================================================
spawn key        stream
===============  ==================================================
``(0, i)``       development clip ``i``
``(1, j)``       recording location ``j`` (audio; ``j + 100000`` video)
``(2,)``         the development plan (cities, location ids, segments)
``(3,)``         the evaluation-set plan (scene of each clip)
``(4, i)``       evaluation clip ``i``
``(5, i)``       evaluation clip ``i``'s own recording location
===============  ==================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from avsc.data.tau import CITIES, CLASSES

EVALUATE_FRACTION = 0.3
CLIPS_PER_LOCATION = 3
#: so a location-disjoint validation split can hold out a small share of train per class
MIN_TRAIN_LOCATIONS = 4
#: offset of the video location streams from the audio ones (same location, independent draws)
VIDEO_LOCATION_OFFSET = 100_000


def clip_seed(*, seed: int, index: int) -> np.random.SeedSequence:
    """Seed sequence of development clip ``index``."""
    return np.random.SeedSequence(seed, spawn_key=(0, index))


def clip_rng(*, seed: int, index: int) -> np.random.Generator:
    """Random stream of development clip ``index``."""
    return np.random.default_rng(clip_seed(seed=seed, index=index))


def location_rng(*, seed: int, index: int) -> np.random.Generator:
    """Random stream of recording location ``index`` (shared by all its clips)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, index)))


@dataclass(frozen=True)
class ClipPlan:
    """One development clip: its name parts, fold and the random streams it draws from."""

    index: int
    scene: str
    city: str
    location: int
    location_index: int
    segment: int
    fold: str  # "train" or "evaluate"

    @property
    def stem(self) -> str:
        return f"{self.scene}-{self.city}-{self.location}-{self.segment}"

    @property
    def identifier(self) -> str:
        return f"{self.city}-{self.location}"


def _split_counts(*, total: int, groups: int) -> list[int]:
    """Split ``total`` clips into ``groups`` nearly equal, non-empty groups (largest first)."""
    base, extra = divmod(total, groups)
    return [base + (1 if g < extra else 0) for g in range(groups)]


def fold_sizes(*, clips_per_class: int) -> tuple[list[int], list[int]]:
    """Clips per train location and per evaluate location of one class.

    About 70 % of the clips go to train and 30 % to evaluate (at least one each); train is spread
    over at least four locations when it has that many clips (at least two from 2 clips on), so a
    location-disjoint validation split can hold out a small share.
    """
    n_eval = max(1, round(EVALUATE_FRACTION * clips_per_class))
    n_train = clips_per_class - n_eval
    train_locs = min(n_train, max(MIN_TRAIN_LOCATIONS, math.ceil(n_train / CLIPS_PER_LOCATION)))
    eval_locs = max(1, math.ceil(n_eval / CLIPS_PER_LOCATION))
    return _split_counts(total=n_train, groups=train_locs), _split_counts(total=n_eval, groups=eval_locs)


def plan_clips(*, clips_per_class: int, cities: int, seed: int) -> list[ClipPlan]:
    """Every development clip's name, location and fold, in class order.

    Location ids are unique over the whole dataset (so an identifier belongs to one scene);
    segment numbers increase with random gaps, as in the original.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    names = CITIES[:cities]
    train_sizes, eval_sizes = fold_sizes(clips_per_class=clips_per_class)
    location = int(rng.integers(1, 200))
    segment = int(rng.integers(1, 500))
    plans: list[ClipPlan] = []
    location_index = 0
    for scene in CLASSES:
        for fold, sizes in (("train", train_sizes), ("evaluate", eval_sizes)):
            for size in sizes:
                city = names[int(rng.integers(len(names)))]
                for _ in range(size):
                    plans.append(ClipPlan(len(plans), scene, city, location, location_index, segment, fold))
                    segment += int(rng.integers(1, 40))
                location += int(rng.integers(1, 12))
                location_index += 1
    return plans


def evaluation_scenes(*, clips: int, seed: int) -> list[str]:
    """The true scene of each evaluation clip: the classes in turn, shuffled (as balanced as ``clips`` allows)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(3,)))
    scenes = [CLASSES[i % len(CLASSES)] for i in range(clips)]
    return [scenes[i] for i in rng.permutation(clips)]


def evaluation_seeds(
    *, seed: int, index: int
) -> tuple[np.random.SeedSequence, np.random.Generator, np.random.Generator]:
    """``(clip seed, audio location stream, video location stream)`` of evaluation clip ``index``.

    Each evaluation clip comes from its own recording location, as anonymous 1-s segments do.
    """
    location = np.random.SeedSequence(seed, spawn_key=(5, index))
    audio_location, video_location = (np.random.default_rng(s) for s in location.spawn(2))
    return np.random.SeedSequence(seed, spawn_key=(4, index)), audio_location, video_location
