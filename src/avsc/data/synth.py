"""Synthetic TAU Urban Audio-Visual Scenes 2021-format dataset.

Writes a small dataset in the exact layout of the development set (``meta.csv``,
``evaluation_setup/fold1_{train,evaluate,test}.csv``, ``audio/*.wav`` as PCM 24-bit stereo 48 kHz,
``video/*.mp4`` as H.264 with an AAC stereo track) so every pipeline stage can run without the
34-hour original. Each scene has an audio signature (spectral shape, recurring events, stereo cues)
and a visual signature (palette, texture, motion, flicker); similar scenes overlap on purpose
(bus/tram/metro, street_pedestrian/public_square/street_traffic) and every recording location and
clip adds random variation, so neither modality alone is perfect.

Everything is derived from the seed: clip ``i`` draws from ``SeedSequence(seed, spawn_key=(0, i))``
and recording location ``j`` from ``SeedSequence(seed, spawn_key=(1, j))``, so the same seed gives
byte-identical files.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avsc.data import media
from avsc.data.tau import CITIES, CLASSES, FOLD_COLUMNS, META_COLUMNS, TEST_COLUMNS
from avsc.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SAMPLE_RATE = 48000
GENERATOR_VERSION = 1
EVALUATE_FRACTION = 0.3
CLIPS_PER_LOCATION = 3
#: so a location-disjoint validation split can hold out a small share of train per class
MIN_TRAIN_LOCATIONS = 4


@dataclass(frozen=True)
class SynthConfig:
    """What to synthesise.

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
    """

    out: Path
    clips_per_class: int = 6
    seed: int = 2021
    duration_s: float = 10.0
    cities: int = 4
    video_width: int = 128
    video_height: int = 96
    video_fps: int = 10


@dataclass(frozen=True)
class ClipPlan:
    """One clip to write: its name parts, fold and the random streams it draws from."""

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


# --------------------------------------------------------------------------------------------
# Scene signatures
# --------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class VideoProfile:
    """Visual signature of a scene; lengths are in pixels of a 128-pixel-wide frame."""

    top: tuple[float, float, float]  # colour above the horizon (sky or ceiling)
    bottom: tuple[float, float, float]  # colour below it (ground or floor)
    horizon: float  # fraction of the height
    stripe_angle: float = 0.0  # degrees; 0 = vertical stripes
    stripe_period: float = 20.0
    stripe_speed: float = 0.0  # pixels per second
    stripe_amp: float = 0.0
    checker: bool = False
    tex_scale: float = 5.0  # pixels per noise cell
    tex_speed: float = 0.0  # pixels per second, horizontal scroll
    tex_amp: float = 8.0
    tex_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    blobs: int = 0
    blob_size: float = 6.0
    blob_speed: float = 5.0
    blob_colour: float = 0.3  # 0 = like the floor, 1 = saturated random colours
    blob_horizontal: bool = False
    flicker_hz: float = 0.0
    flicker_depth: float = 0.0
    shake: float = 0.0  # camera shake, pixels


def _ev(kind: str, rate: float, f_lo: float, f_hi: float, dur: float, level_db: float) -> Event:
    return Event(kind, rate, f_lo, f_hi, dur, level_db)


AUDIO_PROFILES: dict[str, AudioProfile] = {
    "airport": AudioProfile(-3.0, ((500, 1.2, 6), (2000, 1.0, 3)), 0.3, 0.2, 1.0, 0.1, 0.2, None,
                            (_ev("tone", 0.15, 500, 900, 0.8, 6), _ev("click", 0.8, 0, 0, 0.04, -2))),
    "bus": AudioProfile(-6.0, ((100, 1.0, 12), (400, 1.0, 4)), 0.7, 0.05, 0.5, 0.3, 0.15, (85, 0),
                        (_ev("tone", 0.08, 1800, 2200, 0.3, 3), _ev("click", 0.3, 0, 0, 0.04, -4))),
    "metro": AudioProfile(-5.0, ((150, 1.0, 12), (3500, 0.6, 6)), 0.6, 0.1, 1.5, 0.4, 0.1, (110, -3),
                          (_ev("chirp", 0.2, 3000, 4500, 1.0, 2), _ev("click", 0.5, 0, 0, 0.04, 0))),
    "metro_station": AudioProfile(-4.0, ((200, 1.2, 8), (1000, 1.0, 4)), 0.2, 0.3, 2.0, 0.3, 0.05, None,
                                  (_ev("pass", 0.05, 100, 800, 4.0, 6), _ev("tone", 0.1, 600, 1000, 0.6, 4),
                                   _ev("click", 0.8, 0, 0, 0.04, -4))),
    "park": AudioProfile(-2.0, ((3500, 0.8, 8), (300, 1.0, 2)), 0.1, 0.4, 3.0, 0.15, 0.3, None,
                         (_ev("chirp", 1.2, 2500, 5000, 0.12, 8), _ev("click", 0.1, 0, 0, 0.04, -6))),
    "public_square": AudioProfile(-3.5, ((400, 1.5, 5), (1500, 1.0, 4)), 0.15, 0.35, 2.5, 0.2, 0.1, None,
                                  (_ev("click", 1.2, 0, 0, 0.04, -2), _ev("chirp", 0.3, 2500, 5000, 0.12, 4),
                                   _ev("pass", 0.04, 100, 1000, 5.0, 3))),
    "shopping_mall": AudioProfile(-3.0, ((800, 1.3, 8), (250, 1.0, 2)), 0.25, 0.15, 1.0, 0.1, 0.2, None,
                                  (_ev("tone", 0.6, 300, 800, 0.5, 2), _ev("click", 0.6, 0, 0, 0.04, -3))),
    "street_pedestrian": AudioProfile(-3.5, ((500, 1.5, 6), (1200, 1.0, 3)), 0.15, 0.35, 2.5, 0.2, 0.1, None,
                                      (_ev("click", 1.5, 0, 0, 0.04, -1), _ev("pass", 0.06, 80, 800, 4.0, 4),
                                       _ev("chirp", 0.15, 2500, 5000, 0.12, 3))),
    "street_traffic": AudioProfile(-4.5, ((150, 1.2, 10), (700, 1.2, 5)), 0.2, 0.5, 3.0, 0.35, 0.1, None,
                                   (_ev("pass", 0.25, 60, 1200, 4.0, 8), _ev("tone", 0.04, 350, 500, 0.5, 6))),
    "tram": AudioProfile(-5.5, ((120, 1.0, 10), (500, 1.0, 5)), 0.65, 0.08, 0.8, 0.3, 0.12, (95, -3),
                         (_ev("tone", 0.06, 1100, 1300, 1.0, 6), _ev("click", 0.5, 0, 0, 0.04, 0),
                          _ev("chirp", 0.05, 2500, 3500, 0.8, 0))),
}

VIDEO_PROFILES: dict[str, VideoProfile] = {
    "airport": VideoProfile((200, 210, 225), (170, 170, 175), 0.45, stripe_angle=90, stripe_period=24,
                            stripe_speed=2, stripe_amp=18, tex_amp=6, blobs=4, blob_size=5, blob_speed=8),
    "bus": VideoProfile((150, 140, 120), (110, 100, 90), 0.5, stripe_period=20, stripe_speed=30, stripe_amp=25,
                        tex_scale=6, tex_speed=30, tex_amp=10, blobs=2, blob_size=10, blob_speed=2,
                        blob_colour=0.2, flicker_hz=0.3, flicker_depth=0.1, shake=1.5),
    "metro": VideoProfile((90, 100, 120), (60, 65, 80), 0.5, stripe_period=14, stripe_speed=80, stripe_amp=30,
                          tex_scale=4, tex_speed=80, tex_amp=8, blobs=2, blob_size=8, blob_speed=2,
                          blob_colour=0.2, flicker_hz=3.0, flicker_depth=0.25, shake=1.5),
    "metro_station": VideoProfile((110, 110, 120), (90, 85, 80), 0.4, stripe_period=10, stripe_amp=15,
                                  checker=True, tex_scale=6, tex_amp=6, blobs=3, blob_size=7, blob_speed=10,
                                  flicker_hz=1.0, flicker_depth=0.1),
    "park": VideoProfile((140, 180, 230), (60, 130, 60), 0.4, tex_scale=3, tex_speed=4, tex_amp=30,
                         tex_tint=(0.5, 1.0, 0.4), blobs=1, blob_size=6, blob_speed=5, blob_colour=0.2, shake=0.5),
    "public_square": VideoProfile((150, 190, 235), (165, 155, 140), 0.35, stripe_period=32, stripe_amp=10,
                                  tex_amp=10, blobs=6, blob_size=5, blob_speed=10, blob_colour=0.6),
    "shopping_mall": VideoProfile((235, 225, 200), (200, 185, 160), 0.55, stripe_angle=90, stripe_period=12,
                                  stripe_amp=12, checker=True, tex_amp=8, blobs=6, blob_size=6, blob_speed=8,
                                  blob_colour=0.9),
    "street_pedestrian": VideoProfile((150, 185, 225), (150, 140, 130), 0.3, stripe_period=28, stripe_amp=18,
                                      tex_amp=10, blobs=7, blob_size=5, blob_speed=12, blob_colour=0.5),
    "street_traffic": VideoProfile((145, 180, 220), (105, 105, 110), 0.4, stripe_period=40, stripe_amp=8,
                                   tex_amp=8, blobs=4, blob_size=10, blob_speed=40, blob_colour=0.8,
                                   blob_horizontal=True),
    "tram": VideoProfile((160, 130, 125), (120, 110, 105), 0.5, stripe_period=26, stripe_speed=22, stripe_amp=25,
                         tex_scale=6, tex_speed=22, tex_amp=10, blobs=2, blob_size=10, blob_speed=2,
                         blob_colour=0.3, flicker_hz=0.3, flicker_depth=0.08, shake=1.0),
}


# --------------------------------------------------------------------------------------------
# Random streams and plan
# --------------------------------------------------------------------------------------------


def clip_rng(*, seed: int, index: int) -> np.random.Generator:
    """Random stream of clip ``index``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0, index)))


def location_rng(*, seed: int, index: int) -> np.random.Generator:
    """Random stream of recording location ``index`` (shared by all its clips)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1, index)))


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
    n_eval = max(1, int(round(EVALUATE_FRACTION * clips_per_class)))
    n_train = clips_per_class - n_eval
    train_locs = min(n_train, max(MIN_TRAIN_LOCATIONS, math.ceil(n_train / CLIPS_PER_LOCATION)))
    eval_locs = max(1, math.ceil(n_eval / CLIPS_PER_LOCATION))
    return _split_counts(total=n_train, groups=train_locs), _split_counts(total=n_eval, groups=eval_locs)


def plan_clips(config: SynthConfig) -> list[ClipPlan]:
    """Every clip's name, location and fold, in class order.

    Location ids are unique over the whole dataset (so an identifier belongs to one scene);
    segment numbers increase with random gaps, as in the original.
    """
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(2,)))
    cities = CITIES[: config.cities]
    train_sizes, eval_sizes = fold_sizes(clips_per_class=config.clips_per_class)
    location = int(rng.integers(1, 200))
    segment = int(rng.integers(1, 500))
    plans: list[ClipPlan] = []
    location_index = 0
    for scene in CLASSES:
        for fold, sizes in (("train", train_sizes), ("evaluate", eval_sizes)):
            for size in sizes:
                city = cities[int(rng.integers(len(cities)))]
                for _ in range(size):
                    plans.append(ClipPlan(len(plans), scene, city, location, location_index, segment, fold))
                    segment += int(rng.integers(1, 40))
                location += int(rng.integers(1, 12))
                location_index += 1
    return plans


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------


def _jitter_audio(profile: AudioProfile, rng: np.random.Generator, *, scale: float) -> AudioProfile:
    """Random variation of a profile; ``scale`` 1 for a location, smaller for a clip."""
    bands = tuple((fc * 2 ** rng.normal(0, 0.3 * scale), w * 2 ** rng.normal(0, 0.15 * scale),
                   g + rng.normal(0, 2.5 * scale)) for fc, w, g in profile.bands)
    events = tuple(Event(e.kind, e.rate * float(np.exp(rng.normal(0, 0.35 * scale))), e.f_lo, e.f_hi, e.dur,
                         e.level_db + rng.normal(0, 2.0 * scale)) for e in profile.events)
    drone = None
    if profile.drone is not None:
        drone = (profile.drone[0] * 2 ** rng.normal(0, 0.15 * scale), profile.drone[1] + rng.normal(0, 2 * scale))
    return AudioProfile(
        tilt=profile.tilt + rng.normal(0, 1.0 * scale),
        bands=bands,
        coherence=float(np.clip(profile.coherence + rng.normal(0, 0.1 * scale), 0.0, 0.95)),
        itd_ms=profile.itd_ms + abs(rng.normal(0, 0.1 * scale)),
        ild_db=profile.ild_db + rng.normal(0, 1.0 * scale),
        am_depth=float(np.clip(profile.am_depth + rng.normal(0, 0.08 * scale), 0.0, 0.8)),
        am_rate=profile.am_rate,
        drone=drone,
        events=events,
    )


def shaped_noise(*, rng: np.random.Generator, n: int, profile: AudioProfile) -> np.ndarray:
    """Stereo coloured noise with the profile's spectrum, coherence, delay and level difference.

    Returns
    -------
    np.ndarray, shape (n, 2), float64, unit RMS per channel (before the level difference)
    """
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    lf = np.log2(np.maximum(f, 20.0) / 1000.0)
    gain_db = profile.tilt * lf
    for fc, width, gain in profile.bands:
        gain_db = gain_db + gain * np.exp(-0.5 * ((lf - np.log2(fc / 1000.0)) / width) ** 2)
    mag = 10.0 ** (gain_db / 20.0)
    mag[f < 30.0] = 0.0
    mag[f > 20000.0] = 0.0

    def white() -> np.ndarray:
        return rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size)

    common = white()
    c, u = math.sqrt(profile.coherence), math.sqrt(1.0 - profile.coherence)
    delay = np.exp(-2j * np.pi * f * profile.itd_ms / 1000.0)
    left = np.fft.irfft(mag * (c * common + u * white()), n)
    right = np.fft.irfft(mag * (c * common * delay + u * white()), n)
    out = np.stack([left, right], axis=1)
    out /= np.sqrt(np.mean(out**2, axis=0, keepdims=True)) + 1e-12
    ild = 10.0 ** (profile.ild_db / 40.0)
    return out * np.array([ild, 1.0 / ild])


def slow_envelope(*, rng: np.random.Generator, n: int, depth: float, rate: float) -> np.ndarray:
    """Smooth random gain around 1: ``(n,)``."""
    points = max(2, int(math.ceil(n / SAMPLE_RATE * rate)) + 2)
    knots = 1.0 + depth * rng.uniform(-1.0, 1.0, points)
    return np.interp(np.linspace(0, points - 1, n), np.arange(points), knots)


def event_wave(*, rng: np.random.Generator, event: Event) -> np.ndarray:
    """One mono event: ``(m,)`` with peak-ish amplitude 1."""
    dur = event.dur * float(np.exp(rng.normal(0, 0.2)))
    m = max(16, int(dur * SAMPLE_RATE))
    t = np.arange(m) / SAMPLE_RATE
    if event.kind == "tone":
        f0 = rng.uniform(event.f_lo, event.f_hi)
        wave = sum(0.5**k * np.sin(2 * np.pi * (k + 1) * f0 * t) for k in range(3))
        env = (1.0 - np.exp(-t / 0.01)) * np.exp(-t / (dur / 3.0))
        return wave * env
    if event.kind == "chirp":
        f0 = event.f_lo * rng.uniform(0.85, 1.15)
        f1 = event.f_hi * rng.uniform(0.85, 1.15)
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur))
        return np.sin(phase) * np.hanning(m)
    if event.kind == "click":
        return np.diff(rng.standard_normal(m + 1)) * np.exp(-t / 0.008) * 0.5
    if event.kind == "pass":
        spec = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
        f = np.fft.rfftfreq(m, 1.0 / SAMPLE_RATE)
        spec[(f < event.f_lo) | (f > event.f_hi)] = 0.0
        wave = np.fft.irfft(spec, m)
        wave /= np.sqrt(np.mean(wave**2)) + 1e-12
        return wave * np.hanning(m) * 0.6
    raise ValueError(f"unknown event kind {event.kind!r}")


def add_events(audio: np.ndarray, *, rng: np.random.Generator, events: tuple[Event, ...], level: float) -> None:
    """Mix Poisson-timed events into ``audio`` ``(n, 2)`` in place, each panned at random.

    ``pass`` events move from one side to the other (a passing vehicle).
    """
    n = audio.shape[0]
    duration = n / SAMPLE_RATE
    for event in events:
        for _ in range(int(rng.poisson(event.rate * duration))):
            wave = event_wave(rng=rng, event=event) * level * 10.0 ** (event.level_db / 20.0)
            start = int(rng.integers(0, n))
            wave = wave[: n - start]
            m = wave.size
            if event.kind == "pass":
                side = rng.choice([-1.0, 1.0])
                pan = np.linspace(-side, side, m)
            else:
                pan = np.full(m, rng.uniform(-0.8, 0.8))
            angle = (pan + 1.0) * np.pi / 4.0
            audio[start : start + m, 0] += wave * np.cos(angle)
            audio[start : start + m, 1] += wave * np.sin(angle)


def drone_wave(*, rng: np.random.Generator, n: int, f0: float) -> np.ndarray:
    """Engine hum: a harmonic tone with slow pitch wobble, ``(n,)``."""
    wobble = slow_envelope(rng=rng, n=n, depth=0.05, rate=0.3)
    phase = 2 * np.pi * np.cumsum(f0 * wobble) / SAMPLE_RATE
    return sum(0.6**k * np.sin((k + 1) * phase + rng.uniform(0, 2 * np.pi)) for k in range(4))


def render_audio(*, scene: str, n: int, loc_rng: np.random.Generator, rng: np.random.Generator) -> np.ndarray:
    """A clip's audio.

    Returns
    -------
    np.ndarray, shape (n, 2), float64, peaks at most 0.5
    """
    profile = _jitter_audio(_jitter_audio(AUDIO_PROFILES[scene], loc_rng, scale=1.0), rng, scale=0.35)
    audio = shaped_noise(rng=rng, n=n, profile=profile)
    audio *= slow_envelope(rng=rng, n=n, depth=profile.am_depth, rate=profile.am_rate)[:, None]
    if profile.drone is not None:
        hum = drone_wave(rng=rng, n=n, f0=profile.drone[0]) * 10.0 ** (profile.drone[1] / 20.0)
        audio += hum[:, None] * np.array([1.0, 0.9])
    add_events(audio, rng=rng, events=profile.events, level=1.0)
    audio += 0.05 * rng.standard_normal(audio.shape)  # sensor noise
    target = 10.0 ** ((-26.0 + rng.normal(0, 2.5)) / 20.0)
    audio *= target / (np.sqrt(np.mean(audio**2)) + 1e-12)
    peak = float(np.max(np.abs(audio)))
    if peak > 0.5:
        audio *= 0.5 / peak
    return audio


# --------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------


def _jitter_video(profile: VideoProfile, rng: np.random.Generator, *, scale: float) -> VideoProfile:
    """Random variation of a visual profile; ``scale`` 1 for a location, smaller for a clip."""

    def colour(c: tuple[float, float, float]) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.asarray(c) + rng.normal(0, 18 * scale, 3))

    speed_sign = -1.0 if rng.random() < 0.5 * scale else 1.0
    return VideoProfile(
        top=colour(profile.top),
        bottom=colour(profile.bottom),
        horizon=float(np.clip(profile.horizon + rng.normal(0, 0.08 * scale), 0.1, 0.9)),
        stripe_angle=profile.stripe_angle + rng.normal(0, 10 * scale),
        stripe_period=profile.stripe_period * 2 ** rng.normal(0, 0.2 * scale),
        stripe_speed=speed_sign * profile.stripe_speed * 2 ** rng.normal(0, 0.3 * scale),
        stripe_amp=max(0.0, profile.stripe_amp * 2 ** rng.normal(0, 0.3 * scale)),
        checker=profile.checker,
        tex_scale=max(1.5, profile.tex_scale * 2 ** rng.normal(0, 0.2 * scale)),
        tex_speed=speed_sign * profile.tex_speed * 2 ** rng.normal(0, 0.3 * scale),
        tex_amp=max(0.0, profile.tex_amp * 2 ** rng.normal(0, 0.3 * scale)),
        tex_tint=profile.tex_tint,
        blobs=max(0, profile.blobs + int(rng.integers(-1, 2)) if scale >= 1 else profile.blobs),
        blob_size=profile.blob_size * 2 ** rng.normal(0, 0.2 * scale),
        blob_speed=profile.blob_speed * 2 ** rng.normal(0, 0.3 * scale),
        blob_colour=profile.blob_colour,
        blob_horizontal=profile.blob_horizontal,
        flicker_hz=profile.flicker_hz * 2 ** rng.normal(0, 0.2 * scale),
        flicker_depth=max(0.0, profile.flicker_depth + rng.normal(0, 0.04 * scale)),
        shake=max(0.0, profile.shake + rng.normal(0, 0.3 * scale)),
    )


def render_video(
    *, scene: str, n_frames: int, fps: int, width: int, height: int,
    loc_rng: np.random.Generator, rng: np.random.Generator,
) -> np.ndarray:
    """A clip's frames, vectorised over time and pixels (separable in x and y where possible).

    Returns
    -------
    np.ndarray, shape (n_frames, height, width, 3), uint8
    """
    p = _jitter_video(_jitter_video(VIDEO_PROFILES[scene], loc_rng, scale=1.0), rng, scale=0.35)
    f32 = np.float32
    px = width / 128.0
    t = (np.arange(n_frames, dtype=f32) / fps)[:, None, None]  # (T, 1, 1)
    shake = (p.shake * px * rng.standard_normal((2, n_frames))).astype(f32)
    x = np.arange(width, dtype=f32)[None, None, :] + shake[0][:, None, None]  # (T, 1, W)
    y = np.arange(height, dtype=f32)[None, :, None] + shake[1][:, None, None]  # (T, H, 1)

    # Palette: top/bottom with a soft horizon, (T, H, 1, 3).
    mix = 1.0 / (1.0 + np.exp(-(y - f32(p.horizon * height)) / f32(1.5 * px)))
    top, bottom = np.asarray(p.top, f32), np.asarray(p.bottom, f32)
    base = top + (bottom - top) * mix[..., None]

    # Luminance layers, (T, H, W): stripes (or a checkerboard) and a scrolling blocky texture.
    lum = np.zeros((n_frames, height, width), dtype=f32)
    if p.stripe_amp > 0:
        theta = math.radians(p.stripe_angle)
        period = p.stripe_period * px
        ax = 2 * np.pi * (math.cos(theta) * x - p.stripe_speed * px * t) / period + rng.uniform(0, 2 * np.pi)
        ay = 2 * np.pi * (math.sin(theta) * y) / period
        stripes = np.sin(ax) * np.cos(ay) + np.cos(ax) * np.sin(ay)  # sin(ax + ay), separably
        if p.checker:
            bx = 2 * np.pi * (-math.sin(theta) * x) / period
            by = 2 * np.pi * (math.cos(theta) * y) / period
            stripes = np.sign(stripes * (np.sin(bx) * np.cos(by) + np.cos(bx) * np.sin(by)))
        lum += f32(p.stripe_amp) * stripes
    if p.tex_amp > 0:
        cell = p.tex_scale * px
        rows, cols = int(height / cell) + 3, int(2 * width / cell) + 3
        tex = rng.standard_normal((rows, cols), dtype=f32) * f32(p.tex_amp)
        ix = np.floor((x + p.tex_speed * px * t) / cell).astype(np.int64) % cols
        iy = np.clip(np.floor(y / cell).astype(np.int64), 0, rows - 1)
        lum += tex[iy, ix]
    # Channel-first from here, (3, T, H, W), so colour mixing is one matrix product.
    tint = np.asarray(p.tex_tint, f32)[:, None, None, None]
    frames = np.moveaxis(base, -1, 0) + lum[None] * tint

    # Moving blobs (people, cars): separable Gaussians alpha-blended over the scene.
    if p.blobs > 0:
        alphas, colours = [], []
        for _ in range(p.blobs):
            size = p.blob_size * px * rng.uniform(0.7, 1.3)
            angle = rng.choice([0.0, np.pi]) if p.blob_horizontal else rng.uniform(0, 2 * np.pi)
            speed = p.blob_speed * px * rng.uniform(0.5, 1.5)
            span_x, span_y = width + 4 * size, height + 4 * size
            cx = (rng.uniform(0, span_x) + speed * math.cos(angle) * t) % span_x - 2 * size
            if p.blob_horizontal:
                cy = f32(rng.uniform(p.horizon * height, height))
            else:
                cy = (rng.uniform(0, span_y) + speed * math.sin(angle) * t) % span_y - 2 * size
            gx = np.exp(-((x - cx) ** 2) / f32(2 * size**2))
            gy = np.exp(-((y - cy) ** 2) / f32(2 * size**2))
            alphas.append(f32(0.9) * gx * gy)
            colours.append((1 - p.blob_colour) * bottom * 0.6 + p.blob_colour * rng.uniform(20, 240, 3))
        alpha = np.stack(alphas)  # (B, T, H, W)
        total = alpha.sum(axis=0)
        scale = np.minimum(f32(1.0), f32(0.95) / np.maximum(total, f32(1e-6)))
        # einsum, not BLAS: its summation order does not depend on the thread count (determinism)
        paint = np.einsum("bc,bthw->cthw", np.asarray(colours, f32), alpha)
        frames = frames * (1.0 - total * scale) + paint * scale

    # Flicker and sensor noise.
    if p.flicker_depth > 0:
        gain = 1.0 + p.flicker_depth * np.sin(2 * np.pi * p.flicker_hz * t + rng.uniform(0, 2 * np.pi))
        frames *= gain.astype(f32)
    noise = (rng.random((n_frames, height, width), dtype=f32) - f32(0.5)) * f32(14.0) + f32(rng.normal(0, 8))
    frames += noise
    out = np.clip(frames, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(out, 0, -1))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def check_config(config: SynthConfig) -> None:
    """Raise :class:`ConfigError` for values the generator cannot honour."""
    problems = []
    if config.clips_per_class < 2:
        problems.append(f"clips_per_class must be at least 2 (got {config.clips_per_class})")
    if not 1 <= config.cities <= len(CITIES):
        problems.append(f"cities must be 1..{len(CITIES)} (got {config.cities})")
    if not config.duration_s > 0:
        problems.append(f"duration must be positive (got {config.duration_s})")
    for name in ("video_width", "video_height"):
        value = getattr(config, name)
        if value < 16 or value % 2:
            problems.append(f"{name} must be an even number of at least 16 pixels (got {value})")
    if config.video_fps < 1:
        problems.append(f"video_fps must be at least 1 (got {config.video_fps})")
    if problems:
        raise ConfigError("synthetic dataset: " + "; ".join(problems))


def write_clip(root: Path, plan: ClipPlan, *, config: SynthConfig) -> None:
    """Render and write one clip's WAV and MP4 under ``root``."""
    rng = clip_rng(seed=config.seed, index=plan.index)
    audio_rng, video_rng = (np.random.default_rng(s) for s in rng.bit_generator.seed_seq.spawn(2))
    n = int(round(config.duration_s * SAMPLE_RATE))
    audio = render_audio(scene=plan.scene, n=n, rng=audio_rng,
                         loc_rng=location_rng(seed=config.seed, index=plan.location_index))
    n_frames = max(1, int(round(config.duration_s * config.video_fps)))
    frames = render_video(scene=plan.scene, n_frames=n_frames, fps=config.video_fps,
                          width=config.video_width, height=config.video_height, rng=video_rng,
                          loc_rng=location_rng(seed=config.seed, index=plan.location_index + 100_000))
    media.write_wav24(root / "audio" / f"{plan.stem}.wav", audio, SAMPLE_RATE)
    media.write_mp4(root / "video" / f"{plan.stem}.mp4", frames, fps=config.video_fps,
                    audio=audio.astype(np.float32), sample_rate=SAMPLE_RATE)


def index_frames(plans: list[ClipPlan]) -> dict[str, pd.DataFrame]:
    """``meta``, ``train``, ``evaluate`` and ``test`` tables, sorted by file name."""
    rows = pd.DataFrame({
        "filename_audio": [f"audio/{p.stem}.wav" for p in plans],
        "filename_video": [f"video/{p.stem}.mp4" for p in plans],
        "scene_label": [p.scene for p in plans],
        "identifier": [p.identifier for p in plans],
        "fold": [p.fold for p in plans],
    }).sort_values("filename_audio", kind="stable").reset_index(drop=True)
    return {
        "meta": rows[list(META_COLUMNS)],
        "train": rows.loc[rows["fold"] == "train", list(FOLD_COLUMNS)],
        "evaluate": rows.loc[rows["fold"] == "evaluate", list(FOLD_COLUMNS)],
        "test": rows.loc[rows["fold"] == "evaluate", list(TEST_COLUMNS)],
    }


def _describe(config: SynthConfig) -> dict:
    """The config as JSON-able data, without the output path (so the dataset is location-free)."""
    data = asdict(config)
    data.pop("out")
    data["generator_version"] = GENERATOR_VERSION
    return data


def write_index(root: Path, plans: list[ClipPlan], *, config: SynthConfig) -> None:
    """Write meta.csv, evaluation_setup/, SYNTHETIC and README.txt."""
    tables = index_frames(plans)
    (root / "evaluation_setup").mkdir(parents=True, exist_ok=True)
    tables["meta"].to_csv(root / "meta.csv", sep="\t", index=False, lineterminator="\n")
    for name in ("train", "evaluate", "test"):
        tables[name].to_csv(root / "evaluation_setup" / f"fold1_{name}.csv", sep="\t", index=False,
                            lineterminator="\n")
    (root / "SYNTHETIC").write_text(
        "This dataset is SYNTHETIC: generated by avsc.data.synth, not recorded. "
        "It only mimics the layout and formats of TAU Urban Audio-Visual Scenes 2021.\n"
        + json.dumps(_describe(config), indent=2, sort_keys=True) + "\n"
    )
    (root / "README.txt").write_text(
        "Synthetic dataset in the TAU Urban Audio-Visual Scenes 2021 (DCASE 2021 Task 1B) layout.\n"
        f"{len(plans)} clips of {config.duration_s:g} s, {len(CLASSES)} scenes, "
        f"{config.cities} cities; audio WAV PCM 24-bit stereo 48 kHz; video H.264 "
        f"{config.video_width}x{config.video_height} at {config.video_fps} fps with AAC audio.\n"
        "meta.csv and evaluation_setup/fold1_{train,evaluate,test}.csv are tab-separated; train and "
        "evaluate do not share recording locations.\n"
        "Regenerate with: avsc synth --out DIR --seed "
        f"{config.seed} --clips-per-class {config.clips_per_class} --duration {config.duration_s:g} "
        f"--cities {config.cities} --video-size {config.video_width}x{config.video_height} "
        f"--video-fps {config.video_fps}\n"
    )


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(f"{out}: already exists and is not empty; choose another --out or remove it")


def _write_clips(root: Path, plans: list[ClipPlan], *, config: SynthConfig, workers: int) -> None:
    """Write every clip, in ``workers`` processes (each clip has its own random stream)."""
    from tqdm import tqdm

    bar = tqdm(total=len(plans), desc="synth", unit="clip", disable=None)
    try:
        if workers <= 1:
            for plan in plans:
                write_clip(root, plan, config=config)
                bar.update()
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(write_clip, root, plan, config=config) for plan in plans]
            for future in as_completed(futures):
                future.result()
                bar.update()
    finally:
        bar.close()


def default_workers() -> int:
    """Processes used by :func:`synthesize`: ``AVSC_SYNTH_WORKERS`` or up to 2 CPUs."""
    env = os.environ.get("AVSC_SYNTH_WORKERS")
    if env and env.isdigit():
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


def synthesize(config: SynthConfig, *, workers: int | None = None) -> Path:
    """Write the synthetic dataset to ``config.out`` and return that path.

    ``workers`` processes render clips in parallel (default :func:`default_workers`); the output
    does not depend on it.

    The dataset is built in a temporary sibling folder and renamed at the end, so a crash or
    interruption never leaves a partial dataset under ``out``.

    Raises
    ------
    DataError
        ``out`` exists and is not empty.
    ConfigError
        A setting cannot be honoured (e.g. an odd video width).
    """
    check_config(config)
    workers = default_workers() if workers is None else workers
    out = Path(config.out)
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    plans = plan_clips(config)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "audio").mkdir()
        (tmp / "video").mkdir()
        _write_clips(tmp, plans, config=config, workers=workers)
        write_index(tmp, plans, config=config)
        _check_out(out)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    n_train = sum(p.fold == "train" for p in plans)
    log.info("synthetic dataset: %d clips (%d train, %d evaluate) in %d locations, %g s each -> %s",
             len(plans), n_train, len(plans) - n_train, len({p.location_index for p in plans}),
             config.duration_s, out)
    return out


def parse_video_size(text: str) -> tuple[int, int]:
    """``"128x96"`` → ``(128, 96)``; raise :class:`ConfigError` otherwise."""
    parts = str(text).lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"--video-size {text!r}: expected WIDTHxHEIGHT, e.g. 128x96")
    return int(parts[0]), int(parts[1])


def cli_synth(args) -> int:
    """``avsc synth``: write a synthetic dataset."""
    width, height = parse_video_size(args.video_size)
    config = SynthConfig(out=Path(args.out), clips_per_class=args.clips_per_class, seed=args.seed,
                         duration_s=args.duration, cities=args.cities, video_width=width,
                         video_height=height, video_fps=args.video_fps)
    out = synthesize(config)
    log.info("wrote %d clips to %s", config.clips_per_class * len(CLASSES), out)
    return 0
