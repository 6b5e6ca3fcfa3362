"""Limits on media files wherever avsc decodes them (``media`` in ``params.yaml``).

The defaults leave ample room for TAU Urban Audio-Visual Scenes 2021 (10-s clips, 48 kHz stereo
WAV, 1280x720 MP4 of a few MB) while refusing a file that would exhaust memory or time: a file
past a limit is refused by name before it is decoded (size, header duration, resolution), and a
decode that runs past ``decode_timeout_s`` stops with a one-line error.
"""

from __future__ import annotations

from pydantic import Field

from avsc.config.base import Strict


class MediaLimits(Strict):
    """Maximum size, duration, resolution and decode time of one media file."""

    max_file_bytes: int = Field(
        default=256 * 1024 * 1024, ge=1, description="largest media file read, in bytes (TAU: a few MB)"
    )
    max_duration_s: float = Field(default=60.0, gt=0, description="longest clip decoded, in seconds (TAU: 10 s)")
    max_width: int = Field(default=1920, ge=1, description="widest video frame, in pixels (TAU: 1280)")
    max_height: int = Field(default=1080, ge=1, description="tallest video frame, in pixels (TAU: 720)")
    decode_timeout_s: float = Field(default=120.0, gt=0, description="longest time spent decoding one file, in seconds")


#: The limits when no params are at hand (``params.yaml`` ``media`` defaults).
DEFAULT_LIMITS = MediaLimits()
