"""The clips of a DCASE 2021 Task 1B evaluation-set folder, in the official naming and order.

The official set (TAU Urban Audio-Visual Scenes 2021, evaluation) holds ``audio/<n>.wav`` and
``video/<n>.mp4`` listed in ``evaluation_setup/fold1_test.csv``. :func:`list_clips` reads that list
when it exists; otherwise it pairs ``audio/<n>.wav`` with ``video/<n>.mp4`` (or ``<n>.wav`` with
``<n>.mp4`` in the folder itself). Clips are ordered by ``n``. A clip whose file is missing is still
listed (it fails when it is read), so the output never silently has fewer rows than clips.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from avsc.data.tau import TEST_COLUMNS, read_tsv
from avsc.errors import DataError

TEST_LIST = PurePosixPath("evaluation_setup/fold1_test.csv")
#: The official file name of a clip: a non-negative integer index.
INDEX_NAME = re.compile(r"^(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class EvalClip:
    """One evaluation clip: its index ``n``, the row name ``<n>.wav`` and its media paths."""

    index: int
    audio: Path | None
    video: Path

    @property
    def filename(self) -> str:
        """The ``filename`` field of the output CSV (``<n>.wav``)."""
        return f"{self.index}.wav"


def _index(path: PurePosixPath | Path, *, source: Path) -> int:
    stem = path.stem
    if not INDEX_NAME.match(stem):
        raise DataError(f"{source}: {path} is not named <n>{path.suffix} (n = 0, 1, 2, ...) as the evaluation set is")
    return int(stem)


def _from_test_list(root: Path) -> list[EvalClip]:
    path = root / TEST_LIST
    frame = read_tsv(path, TEST_COLUMNS)
    clips = []
    for audio, video in zip(frame["filename_audio"], frame["filename_video"], strict=True):
        a, v = PurePosixPath(audio), PurePosixPath(video)
        if a.suffix != ".wav" or v.suffix != ".mp4":
            raise DataError(f"{path}: row {audio!r}, {video!r}: expected <n>.wav and <n>.mp4")
        index = _index(a, source=path)
        if _index(v, source=path) != index:
            raise DataError(f"{path}: row {audio!r}, {video!r}: audio and video of different clips")
        clips.append(EvalClip(index=index, audio=root / a, video=root / v))
    return clips


def _from_folders(root: Path) -> list[EvalClip]:
    audio_dir, video_dir = (root / "audio", root / "video") if (root / "video").is_dir() else (root, root)
    by_index: dict[int, EvalClip] = {}
    for video in sorted(video_dir.glob("*.mp4")):
        index = _index(video, source=root)
        wav = audio_dir / f"{video.stem}.wav"
        by_index[index] = EvalClip(index=index, audio=wav if wav.exists() else None, video=video)
    for wav in sorted(audio_dir.glob("*.wav")):
        index = _index(wav, source=root)
        if index not in by_index:  # listed, and fails when read: the video is missing
            by_index[index] = EvalClip(index=index, audio=wav, video=video_dir / f"{wav.stem}.mp4")
    return list(by_index.values())


def list_clips(root: Path | str) -> list[EvalClip]:
    """Every clip of the evaluation-set folder ``root``, ordered by index.

    Raises
    ------
    DataError
        ``root`` is not a folder, holds no clips, names a clip twice or a file outside the
        ``<n>.wav`` / ``<n>.mp4`` naming.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: evaluation-set folder not found")
    clips = _from_test_list(root) if (root / TEST_LIST).is_file() else _from_folders(root)
    if not clips:
        raise DataError(f"{root}: no clips (expected {TEST_LIST} or audio/<n>.wav + video/<n>.mp4)")
    clips.sort(key=lambda c: c.index)
    seen: set[int] = set()
    for clip in clips:
        if clip.index in seen:
            raise DataError(f"{root}: clip {clip.filename} is listed more than once")
        seen.add(clip.index)
    return clips


def clips_fingerprint(clips: list[EvalClip]) -> str:
    """A hash of the clip list (indices and paths), to refuse resuming over a different set."""
    digest = hashlib.sha256()
    for clip in clips:
        digest.update(f"{clip.index}\t{clip.audio}\t{clip.video}\n".encode())
    return digest.hexdigest()[:16]
