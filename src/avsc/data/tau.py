"""TAU Urban Audio-Visual Scenes 2021 (development) dataset layer.

Reads ``meta.csv`` and ``evaluation_setup/fold1_{train,evaluate,test}.csv`` (tab-separated) and
draws the location-disjoint validation split from fold1_train.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avsc.data.paths import media_problem
from avsc.errors import DataError

CLASSES: tuple[str, ...] = (
    "airport",
    "bus",
    "metro",
    "metro_station",
    "park",
    "public_square",
    "shopping_mall",
    "street_pedestrian",
    "street_traffic",
    "tram",
)
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}
CITIES: tuple[str, ...] = (
    "barcelona",
    "helsinki",
    "lisbon",
    "london",
    "lyon",
    "milan",
    "paris",
    "prague",
    "stockholm",
    "vienna",
)
META_COLUMNS = ("filename_audio", "filename_video", "scene_label", "identifier")
FOLD_COLUMNS = ("filename_audio", "filename_video", "scene_label")
TEST_COLUMNS = ("filename_audio", "filename_video")
#: ``<scene>-<city>-<location>-<segment>``; scene names contain underscores, never hyphens.
CLIP_NAME = re.compile(r"^(?P<scene>[a-z_]+)-(?P<city>[a-z]+)-(?P<location>\d+)-(?P<segment>\d+)$")


@dataclass(frozen=True)
class ClipName:
    """The parts of a clip's file name."""

    scene: str
    city: str
    location: str
    segment: str

    @property
    def identifier(self) -> str:
        """Recording location, ``<city>-<location>``."""
        return f"{self.city}-{self.location}"

    @property
    def stem(self) -> str:
        return f"{self.scene}-{self.city}-{self.location}-{self.segment}"


def parse_clip_name(path: str) -> ClipName:
    """Parse ``audio/<scene>-<city>-<location>-<segment>.wav`` (any folder, any extension)."""
    stem = Path(path).stem
    match = CLIP_NAME.match(stem)
    if not match:
        raise DataError(f"{path}: file name does not follow <scene>-<city>-<location>-<segment>")
    return ClipName(**match.groupdict())


def read_tsv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a tab-separated index file and check its header."""
    if not path.is_file():
        raise DataError(f"{path}: missing")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas raises several parser errors
        raise DataError(f"{path}: not a readable tab-separated file ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def clip_id(filename_audio: str) -> str:
    """Clip identifier used everywhere: the file stem (``airport-london-6-257``)."""
    return Path(filename_audio).stem


def _with_parts(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    parts = [parse_clip_name(f) for f in frame["filename_audio"]]
    frame["clip"] = [p.stem for p in parts]
    frame["city"] = [p.city for p in parts]
    frame["identifier"] = [p.identifier for p in parts]
    return frame


@dataclass(frozen=True)
class TauDataset:
    """An on-disk TAU dataset: its root and the three splits used by avsc."""

    root: Path
    meta: pd.DataFrame
    train: pd.DataFrame
    validation: pd.DataFrame
    evaluate: pd.DataFrame

    def split(self, name: str) -> pd.DataFrame:
        """``train``, ``validation`` or ``evaluate``."""
        frames = {"train": self.train, "validation": self.validation, "evaluate": self.evaluate}
        if name not in frames:
            raise DataError(f"unknown split {name!r}; expected one of {', '.join(frames)}")
        return frames[name]

    def audio_path(self, row) -> Path:
        return self.root / row["filename_audio"]

    def video_path(self, row) -> Path:
        return self.root / row["filename_video"]

    @property
    def is_synthetic(self) -> bool:
        return (self.root / "SYNTHETIC").is_file()

    def all_clips(self) -> pd.DataFrame:
        """Train, validation and evaluate clips with a ``split`` column, in a stable order."""
        parts = []
        for name in ("train", "validation", "evaluate"):
            frame = self.split(name).copy()
            frame["split"] = name
            parts.append(frame)
        return pd.concat(parts, ignore_index=True)


def validation_locations(train: pd.DataFrame, *, fraction: float, seed: int) -> set[str]:
    """Pick recording locations for validation, about ``fraction`` of fold1_train per class.

    Locations are drawn class by class (a location belongs to one scene), so every class keeps
    some validation clips when it has at least two locations.
    """
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    for scene in sorted(train["scene_label"].unique()):
        rows = train[train["scene_label"] == scene]
        counts = rows.groupby("identifier").size()
        locations = sorted(counts.index)
        if len(locations) < 2:
            continue
        order = rng.permutation(len(locations))
        target = fraction * len(rows)
        taken = 0
        for i in order:
            if taken >= target:
                break
            if taken + counts[locations[i]] > 0.5 * len(rows) and taken > 0:
                continue
            chosen.add(locations[i])
            taken += counts[locations[i]]
    return chosen


def check_media_names(root: Path, frames: dict[str, pd.DataFrame]) -> None:
    """Refuse any media file named by an index row that is not a regular file inside ``root``.

    ``frames`` maps an index file's path (for the message) to its rows. Each name is checked once,
    with ``stat`` only: nothing is opened, so ``/dev/zero``, a FIFO, ``../`` or a symlink leading
    out of the root cannot hang or leak into the caller (see :mod:`avsc.data.paths`).

    Raises
    ------
    DataError
        One line naming the index file, its row, the offending name and the rule.
    """
    seen: dict[str, str | None] = {}
    for source, frame in frames.items():
        for column in ("filename_audio", "filename_video"):
            for line, name in enumerate(frame[column], start=2):  # line 1 is the header
                if name not in seen:
                    seen[name] = media_problem(root, name)
                if seen[name]:
                    raise DataError(f"{source} line {line}: {column} {name!r}: {seen[name]}")


def load_dataset(root: Path | str, *, validation_fraction: float = 0.1, seed: int = 2021) -> TauDataset:
    """Read a TAU dataset's index files and check the media paths they name (nothing is opened).

    Raises
    ------
    DataError
        An index file is missing or malformed, or names a media file that is not a regular file
        inside ``root`` (:func:`check_media_names`).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    meta = read_tsv(root / "meta.csv", META_COLUMNS)
    setup = root / "evaluation_setup"
    train_rows = read_tsv(setup / "fold1_train.csv", FOLD_COLUMNS)
    evaluate_rows = read_tsv(setup / "fold1_evaluate.csv", FOLD_COLUMNS)
    check_media_names(
        root,
        {
            str(root / "meta.csv"): meta,
            str(setup / "fold1_train.csv"): train_rows,
            str(setup / "fold1_evaluate.csv"): evaluate_rows,
        },
    )
    fold_train = _with_parts(train_rows)
    fold_eval = _with_parts(evaluate_rows)
    for name, frame in (("fold1_train.csv", fold_train), ("fold1_evaluate.csv", fold_eval)):
        bad = sorted(set(frame["scene_label"]) - set(CLASSES))
        if bad:
            raise DataError(f"{setup / name}: unknown scene label(s) {', '.join(bad)}")
    held_out = validation_locations(fold_train, fraction=validation_fraction, seed=seed)
    is_val = fold_train["identifier"].isin(held_out)
    return TauDataset(
        root=root,
        meta=meta,
        train=fold_train[~is_val].reset_index(drop=True),
        validation=fold_train[is_val].reset_index(drop=True),
        evaluate=fold_eval.reset_index(drop=True),
    )
