"""Scene audio: pure functions of the random streams and a scene's :class:`~.audio_scenes.AudioProfile`.

Each clip's profile is the scene's, jittered once per recording location and again per clip;
the background is coloured stereo noise with the profile's coherence, delay and level difference,
modulated slowly, with an engine hum and Poisson-timed events mixed in.
"""

from __future__ import annotations

import math

import numpy as np

from avsc.data.synthetic.audio_scenes import AUDIO_PROFILES, AudioProfile, Event

#: Sample rate of every synthetic WAV, as in TAU Urban Audio-Visual Scenes 2021.
SAMPLE_RATE = 48000


def _jitter_audio(profile: AudioProfile, rng: np.random.Generator, *, scale: float) -> AudioProfile:
    """Random variation of a profile; ``scale`` 1 for a location, smaller for a clip."""
    bands = tuple(
        (fc * 2 ** rng.normal(0, 0.3 * scale), w * 2 ** rng.normal(0, 0.15 * scale), g + rng.normal(0, 2.5 * scale))
        for fc, w, g in profile.bands
    )
    events = tuple(
        Event(
            e.kind,
            e.rate * float(np.exp(rng.normal(0, 0.35 * scale))),
            e.f_lo,
            e.f_hi,
            e.dur,
            e.level_db + rng.normal(0, 2.0 * scale),
        )
        for e in profile.events
    )
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
    points = max(2, math.ceil(n / SAMPLE_RATE * rate) + 2)
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
    wave = np.zeros(n)
    for k in range(4):
        wave = wave + 0.6**k * np.sin((k + 1) * phase + rng.uniform(0, 2 * np.pi))
    return wave


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
