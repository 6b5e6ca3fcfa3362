"""One clip's audio and frames from its random streams: a pure function, no files."""

from __future__ import annotations

import numpy as np

from avsc.data.synthetic.audio import SAMPLE_RATE, render_audio
from avsc.data.synthetic.video import render_video


def render_clip(
    *,
    scene: str,
    clip_seed: np.random.SeedSequence,
    audio_location: np.random.Generator,
    video_location: np.random.Generator,
    duration_s: float,
    video_fps: int,
    video_width: int,
    video_height: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a clip of ``scene``; the clip's own draws come from two streams spawned from ``clip_seed``.

    Returns
    -------
    audio : np.ndarray, shape (round(duration_s * 48000), 2), float64, peaks at most 0.5
    frames : np.ndarray, shape (max(1, round(duration_s * video_fps)), video_height, video_width, 3), uint8
    """
    audio_rng, video_rng = (np.random.default_rng(s) for s in clip_seed.spawn(2))
    audio = render_audio(scene=scene, n=round(duration_s * SAMPLE_RATE), rng=audio_rng, loc_rng=audio_location)
    frames = render_video(
        scene=scene,
        n_frames=max(1, round(duration_s * video_fps)),
        fps=video_fps,
        width=video_width,
        height=video_height,
        rng=video_rng,
        loc_rng=video_location,
    )
    return audio, frames
