"""Visual signatures of the ten scenes: palette, texture, motion, flicker.

Pure data: the renderer is :mod:`.video`.
"""

from __future__ import annotations

from dataclasses import dataclass


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


VIDEO_PROFILES: dict[str, VideoProfile] = {
    "airport": VideoProfile(
        (200, 210, 225),
        (170, 170, 175),
        0.45,
        stripe_angle=90,
        stripe_period=24,
        stripe_speed=2,
        stripe_amp=18,
        tex_amp=6,
        blobs=4,
        blob_size=5,
        blob_speed=8,
    ),
    "bus": VideoProfile(
        (150, 140, 120),
        (110, 100, 90),
        0.5,
        stripe_period=20,
        stripe_speed=30,
        stripe_amp=25,
        tex_scale=6,
        tex_speed=30,
        tex_amp=10,
        blobs=2,
        blob_size=10,
        blob_speed=2,
        blob_colour=0.2,
        flicker_hz=0.3,
        flicker_depth=0.1,
        shake=1.5,
    ),
    "metro": VideoProfile(
        (90, 100, 120),
        (60, 65, 80),
        0.5,
        stripe_period=14,
        stripe_speed=80,
        stripe_amp=30,
        tex_scale=4,
        tex_speed=80,
        tex_amp=8,
        blobs=2,
        blob_size=8,
        blob_speed=2,
        blob_colour=0.2,
        flicker_hz=3.0,
        flicker_depth=0.25,
        shake=1.5,
    ),
    "metro_station": VideoProfile(
        (110, 110, 120),
        (90, 85, 80),
        0.4,
        stripe_period=10,
        stripe_amp=15,
        checker=True,
        tex_scale=6,
        tex_amp=6,
        blobs=3,
        blob_size=7,
        blob_speed=10,
        flicker_hz=1.0,
        flicker_depth=0.1,
    ),
    "park": VideoProfile(
        (140, 180, 230),
        (60, 130, 60),
        0.4,
        tex_scale=3,
        tex_speed=4,
        tex_amp=30,
        tex_tint=(0.5, 1.0, 0.4),
        blobs=1,
        blob_size=6,
        blob_speed=5,
        blob_colour=0.2,
        shake=0.5,
    ),
    "public_square": VideoProfile(
        (150, 190, 235),
        (165, 155, 140),
        0.35,
        stripe_period=32,
        stripe_amp=10,
        tex_amp=10,
        blobs=6,
        blob_size=5,
        blob_speed=10,
        blob_colour=0.6,
    ),
    "shopping_mall": VideoProfile(
        (235, 225, 200),
        (200, 185, 160),
        0.55,
        stripe_angle=90,
        stripe_period=12,
        stripe_amp=12,
        checker=True,
        tex_amp=8,
        blobs=6,
        blob_size=6,
        blob_speed=8,
        blob_colour=0.9,
    ),
    "street_pedestrian": VideoProfile(
        (150, 185, 225),
        (150, 140, 130),
        0.3,
        stripe_period=28,
        stripe_amp=18,
        tex_amp=10,
        blobs=7,
        blob_size=5,
        blob_speed=12,
        blob_colour=0.5,
    ),
    "street_traffic": VideoProfile(
        (145, 180, 220),
        (105, 105, 110),
        0.4,
        stripe_period=40,
        stripe_amp=8,
        tex_amp=8,
        blobs=4,
        blob_size=10,
        blob_speed=40,
        blob_colour=0.8,
        blob_horizontal=True,
    ),
    "tram": VideoProfile(
        (160, 130, 125),
        (120, 110, 105),
        0.5,
        stripe_period=26,
        stripe_speed=22,
        stripe_amp=25,
        tex_scale=6,
        tex_speed=22,
        tex_amp=10,
        blobs=2,
        blob_size=10,
        blob_speed=2,
        blob_colour=0.3,
        flicker_hz=0.3,
        flicker_depth=0.08,
        shake=1.0,
    ),
}
