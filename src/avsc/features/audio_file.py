"""Audio features of one WAV file (the unit of work of the ``features_audio`` stage).

Validation accepts clips within ``validate.duration_tolerance_s`` of the nominal duration, so a
9.96-s clip is valid but gives 498 frames instead of 500: :func:`avsc.features.frontends.compute_audio`
pads (repeating the last frame, as :func:`avsc.data.media.decode_frames` repeats the last video
frame) or trims every clip to the nominal frame count, so all clips stack into one array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.data.media import read_audio
from avsc.errors import DataError
from avsc.features.frontends import AudioSettings, compute_audio

#: Shortest audio accepted, as a fraction of the nominal duration (validation is far stricter).
MIN_FRACTION = 0.9


def audio_file_features(
    path: Path | str, *, cfg: AudioSettings, duration_s: float, limits: MediaLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """Features of one stereo audio file with the front end of ``cfg``, fitted to the nominal length.

    ``limits`` (``media`` in ``params.yaml``) bound the file's size and duration.

    Raises
    ------
    DataError
        For audio that is not stereo or shorter than ``MIN_FRACTION`` of ``duration_s``.
    """
    audio, sr = read_audio(path, limits=limits)
    if audio.shape[1] != 2:
        raise DataError(f"{path}: expected 2 channels, found {audio.shape[1]}")
    if audio.shape[0] < int(MIN_FRACTION * duration_s * sr):
        raise DataError(f"{path}: {audio.shape[0] / sr:.2f} s of audio, expected {duration_s:g} s")
    return compute_audio(audio, sr, cfg=cfg, duration_s=duration_s)
