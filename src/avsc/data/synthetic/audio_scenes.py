"""Audio signatures of the ten scenes: spectral shape, recurring events, stereo cues.

Similar scenes overlap on purpose (bus/tram/metro, street_pedestrian/public_square/street_traffic),
so audio alone is not a perfect classifier. Pure data: the renderer is :mod:`.audio`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """A recurring sound event: ``kind`` in tone, chirp, click, pass."""

    kind: str
    rate: float  # events per second
    f_lo: float  # Hz (chirp: start frequency)
    f_hi: float  # Hz (chirp: end frequency)
    dur: float  # seconds
    level_db: float  # relative to the background RMS


@dataclass(frozen=True)
class AudioProfile:
    """Audio signature of a scene."""

    tilt: float  # dB per octave around 1 kHz
    bands: tuple[tuple[float, float, float], ...]  # (centre Hz, width octaves, gain dB)
    coherence: float  # inter-channel coherence of the background, 0..1
    itd_ms: float  # inter-channel delay of the coherent background
    ild_db: float  # inter-channel level difference
    am_depth: float  # slow amplitude modulation depth
    am_rate: float  # control points per second of that modulation
    drone: tuple[float, float] | None = None  # (fundamental Hz, level dB) engine hum
    events: tuple[Event, ...] = ()


def _ev(kind: str, rate: float, f_lo: float, f_hi: float, dur: float, level_db: float) -> Event:
    return Event(kind, rate, f_lo, f_hi, dur, level_db)


AUDIO_PROFILES: dict[str, AudioProfile] = {
    "airport": AudioProfile(
        -3.0,
        ((500, 1.2, 6), (2000, 1.0, 3)),
        0.3,
        0.2,
        1.0,
        0.1,
        0.2,
        None,
        (_ev("tone", 0.15, 500, 900, 0.8, 6), _ev("click", 0.8, 0, 0, 0.04, -2)),
    ),
    "bus": AudioProfile(
        -6.0,
        ((100, 1.0, 12), (400, 1.0, 4)),
        0.7,
        0.05,
        0.5,
        0.3,
        0.15,
        (85, 0),
        (_ev("tone", 0.08, 1800, 2200, 0.3, 3), _ev("click", 0.3, 0, 0, 0.04, -4)),
    ),
    "metro": AudioProfile(
        -5.0,
        ((150, 1.0, 12), (3500, 0.6, 6)),
        0.6,
        0.1,
        1.5,
        0.4,
        0.1,
        (110, -3),
        (_ev("chirp", 0.2, 3000, 4500, 1.0, 2), _ev("click", 0.5, 0, 0, 0.04, 0)),
    ),
    "metro_station": AudioProfile(
        -4.0,
        ((200, 1.2, 8), (1000, 1.0, 4)),
        0.2,
        0.3,
        2.0,
        0.3,
        0.05,
        None,
        (_ev("pass", 0.05, 100, 800, 4.0, 6), _ev("tone", 0.1, 600, 1000, 0.6, 4), _ev("click", 0.8, 0, 0, 0.04, -4)),
    ),
    "park": AudioProfile(
        -2.0,
        ((3500, 0.8, 8), (300, 1.0, 2)),
        0.1,
        0.4,
        3.0,
        0.15,
        0.3,
        None,
        (_ev("chirp", 1.2, 2500, 5000, 0.12, 8), _ev("click", 0.1, 0, 0, 0.04, -6)),
    ),
    "public_square": AudioProfile(
        -3.5,
        ((400, 1.5, 5), (1500, 1.0, 4)),
        0.15,
        0.35,
        2.5,
        0.2,
        0.1,
        None,
        (
            _ev("click", 1.2, 0, 0, 0.04, -2),
            _ev("chirp", 0.3, 2500, 5000, 0.12, 4),
            _ev("pass", 0.04, 100, 1000, 5.0, 3),
        ),
    ),
    "shopping_mall": AudioProfile(
        -3.0,
        ((800, 1.3, 8), (250, 1.0, 2)),
        0.25,
        0.15,
        1.0,
        0.1,
        0.2,
        None,
        (_ev("tone", 0.6, 300, 800, 0.5, 2), _ev("click", 0.6, 0, 0, 0.04, -3)),
    ),
    "street_pedestrian": AudioProfile(
        -3.5,
        ((500, 1.5, 6), (1200, 1.0, 3)),
        0.15,
        0.35,
        2.5,
        0.2,
        0.1,
        None,
        (
            _ev("click", 1.5, 0, 0, 0.04, -1),
            _ev("pass", 0.06, 80, 800, 4.0, 4),
            _ev("chirp", 0.15, 2500, 5000, 0.12, 3),
        ),
    ),
    "street_traffic": AudioProfile(
        -4.5,
        ((150, 1.2, 10), (700, 1.2, 5)),
        0.2,
        0.5,
        3.0,
        0.35,
        0.1,
        None,
        (_ev("pass", 0.25, 60, 1200, 4.0, 8), _ev("tone", 0.04, 350, 500, 0.5, 6)),
    ),
    "tram": AudioProfile(
        -5.5,
        ((120, 1.0, 10), (500, 1.0, 5)),
        0.65,
        0.08,
        0.8,
        0.3,
        0.12,
        (95, -3),
        (
            _ev("tone", 0.06, 1100, 1300, 1.0, 6),
            _ev("click", 0.5, 0, 0, 0.04, 0),
            _ev("chirp", 0.05, 2500, 3500, 0.8, 0),
        ),
    ),
}
