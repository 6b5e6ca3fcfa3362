"""Scene video: pure functions of the random streams and a scene's :class:`~.video_scenes.VideoProfile`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from avsc.data.synthetic.video_scenes import VIDEO_PROFILES, VideoProfile


def _jitter_video(profile: VideoProfile, rng: np.random.Generator, *, scale: float) -> VideoProfile:
    """Random variation of a visual profile; ``scale`` 1 for a location, smaller for a clip."""

    def colour(c: tuple[float, float, float]) -> tuple[float, float, float]:
        r, g, b = (float(v) for v in np.asarray(c) + rng.normal(0, 18 * scale, 3))
        return r, g, b

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
    *,
    scene: str,
    n_frames: int,
    fps: int,
    width: int,
    height: int,
    loc_rng: np.random.Generator,
    rng: np.random.Generator,
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
            cy: Any
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
