"""What to synthesise: the development layout (:class:`SynthConfig`) or a 1-s evaluation set.

Every default and bound comes from :class:`avsc.config.settings.SyntheticSection` (the seed's from
:class:`~avsc.config.settings.BaseSection`): these classes only add the output folder, and check
their values through :func:`~avsc.config.settings.synthetic_settings` when they are created, so a
bad value is a one-line :class:`~avsc.errors.ConfigError` before anything is written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from avsc.config.settings import BaseSection, SyntheticSection, synthetic_settings
from avsc.errors import ConfigError

DEFAULTS = SyntheticSection()
DEFAULT_SEED = BaseSection().seed
#: Clip length of the challenge's evaluation set: it is released as 1-s segments.
EVALUATION_DURATION_S = 1.0


@dataclass(frozen=True)
class SynthConfig:
    """A synthetic dataset in the TAU Urban Audio-Visual Scenes 2021 development layout.

    Parameters
    ----------
    out : Path
        Output folder; must not exist or be empty.
    clips_per_class : int
        Clips per scene class (at least 2; 4 or more gives every class two train locations).
    seed : int
        Seed of every random draw.
    duration_s : float
        Clip length in seconds.
    cities : int
        Number of cities, the first ``cities`` of :data:`avsc.data.tau.CITIES`.
    video_width, video_height : int
        Video frame size in pixels (even numbers, H.264 4:2:0).
    video_fps : int
        Video frame rate.

    Raises
    ------
    ConfigError
        A value is outside the bounds of :class:`~avsc.config.settings.SyntheticSection`.
    """

    out: Path
    clips_per_class: int = DEFAULTS.clips_per_class
    seed: int = DEFAULT_SEED
    duration_s: float = DEFAULTS.duration_s
    cities: int = DEFAULTS.cities
    video_width: int = DEFAULTS.video_width
    video_height: int = DEFAULTS.video_height
    video_fps: int = DEFAULTS.video_fps

    def __post_init__(self) -> None:
        values = {k: v for k, v in asdict(self).items() if k not in ("out", "seed")}
        _freeze(self, out=Path(self.out), seed=int(self.seed), **synthetic_settings(**values).model_dump())


@dataclass(frozen=True)
class EvaluationSetConfig:
    """A 1-s evaluation set in the naming of the DCASE 2021 Task 1B evaluation data.

    Parameters
    ----------
    out : Path
        Output folder; must not exist or be empty.
    clips : int
        Number of 1-s clips (at least 1), named ``0`` to ``clips - 1``.
    seed : int
        Seed of every random draw.
    video_width, video_height, video_fps : int
        Video format, with the bounds of the development layout.
    """

    out: Path
    clips: int
    seed: int = DEFAULT_SEED
    video_width: int = DEFAULTS.video_width
    video_height: int = DEFAULTS.video_height
    video_fps: int = DEFAULTS.video_fps

    def __post_init__(self) -> None:
        if not isinstance(self.clips, int) or self.clips < 1:
            raise ConfigError(f"synthetic evaluation set: clips must be at least 1 (got {self.clips!r})")
        video = synthetic_settings(
            video_width=self.video_width, video_height=self.video_height, video_fps=self.video_fps
        )
        _freeze(
            self,
            out=Path(self.out),
            seed=int(self.seed),
            video_width=video.video_width,
            video_height=video.video_height,
            video_fps=video.video_fps,
        )

    @property
    def duration_s(self) -> float:
        return EVALUATION_DURATION_S


def _freeze(config: object, **values: object) -> None:
    """Store the checked (and type-normalised) values on a frozen dataclass."""
    for name, value in values.items():
        object.__setattr__(config, name, value)
