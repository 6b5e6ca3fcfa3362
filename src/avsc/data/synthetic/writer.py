"""Writing a synthetic dataset: one clip's media files, clips in parallel, the folder atomically."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np

from avsc.data import media
from avsc.data.synthetic.audio import SAMPLE_RATE
from avsc.errors import DataError
from avsc.io import atomic_dir

T = TypeVar("T")


def write_media(audio_path: Path, video_path: Path, *, audio: np.ndarray, frames: np.ndarray, fps: int) -> None:
    """Write a clip as WAV PCM 24-bit stereo 48 kHz and as H.264 MP4 carrying the same audio (AAC)."""
    media.write_wav24(audio_path, audio, SAMPLE_RATE)
    media.write_mp4(video_path, frames, fps=fps, audio=audio.astype(np.float32), sample_rate=SAMPLE_RATE)


def default_workers() -> int:
    """Processes that write clips: ``AVSC_SYNTH_WORKERS`` or up to 2 CPUs."""
    env = os.environ.get("AVSC_SYNTH_WORKERS")
    if env and env.isdigit():
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


def run_jobs(func: Callable[[T], object], items: Sequence[T], *, workers: int, desc: str) -> None:
    """``func(item)`` for every item, in ``workers`` processes; the first failure is raised."""
    from tqdm import tqdm

    bar = tqdm(total=len(items), desc=desc, unit="clip", disable=None)
    try:
        if workers <= 1:
            for item in items:
                func(item)
                bar.update()
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed

        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for future in as_completed([pool.submit(func, item) for item in items]):
                future.result()
                bar.update()
    finally:
        bar.close()


def check_out(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (user data is never overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: already exists and is not empty; choose another --out or remove it")


@contextmanager
def new_dataset_dir(out: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out`` that becomes ``out`` when the body succeeds.

    A crash or an interruption never leaves a partial dataset under ``out``; an ``out`` that is not
    empty is refused before anything is written, and again before the rename.
    """
    check_out(out)
    with atomic_dir(out) as tmp:
        (tmp / "audio").mkdir()
        (tmp / "video").mkdir()
        yield tmp
        check_out(out)
