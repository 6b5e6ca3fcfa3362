"""Is a folder a TAU Urban Audio-Visual Scenes 2021 development copy? One line says what is missing.

The entry commands check a folder before anything is copied or configured: first the structure
(``meta.csv``, ``evaluation_setup/fold1_train.csv``, ``evaluation_setup/fold1_evaluate.csv``,
``audio/``, ``video/``), all missing parts named at once; then the index files and every media file
they name, through :func:`avsc.data.tau.load_dataset` (regular files inside the folder, no ``..``,
no symlink leading out; nothing is opened).
"""

from __future__ import annotations

from pathlib import Path

from avsc.data.tau import TauDataset, load_dataset
from avsc.errors import DataError

#: What a development copy holds: (relative path, is a folder).
REQUIRED: tuple[tuple[str, bool], ...] = (
    ("meta.csv", False),
    ("evaluation_setup/fold1_train.csv", False),
    ("evaluation_setup/fold1_evaluate.csv", False),
    ("audio", True),
    ("video", True),
)
#: The top folder of the official archives.
TOP_FOLDER = "TAU-urban-audio-visual-scenes-2021-development"


def missing_parts(root: Path) -> list[str]:
    """The entries of :data:`REQUIRED` that ``root`` lacks (folders end with ``/``)."""
    missing = []
    for name, is_dir in REQUIRED:
        path = root / name
        present = path.is_dir() if is_dir else path.is_file()
        if not present:
            missing.append(f"{name}/" if is_dir else name)
    return missing


def _hint(root: Path) -> str:
    """`` (did you mean ...?)`` when a direct subfolder is a complete layout (e.g. a download folder)."""
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return ""
    for child in children:
        if not missing_parts(child):
            return f" (did you mean {child}?)"
    return ""


def check_layout(root: Path | str) -> TauDataset:
    """Check that ``root`` is a complete TAU development layout and return the dataset.

    Raises
    ------
    DataError
        One line: the folder and everything of :data:`REQUIRED` it lacks, or the index file, row
        and rule of the first media name that is missing or unsafe.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    missing = missing_parts(root)
    if missing:
        raise DataError(
            f"{root}: not a TAU Urban Audio-Visual Scenes 2021 layout: missing {', '.join(missing)}{_hint(root)}"
        )
    return load_dataset(root)
