"""Pure segment functions: random crops, fixed segmentation, audio/visual alignment, mixup."""

from __future__ import annotations

import numpy as np
import pytest

from avsc.training.segments import fixed_segments, gather_audio, gather_visual, mixup, one_hot, random_crop_starts


def test_random_crop_starts_bounds_and_layout():
    rng = np.random.default_rng(0)
    clip_index, start = random_crop_starts(n_clips=7, n_visual_frames=50, visual_fps=5, crops_per_clip=300, rng=rng)
    assert clip_index.shape == start.shape == (7 * 300,)
    np.testing.assert_array_equal(clip_index, np.repeat(np.arange(7), 300))
    assert start.min() == 0 and start.max() == 45  # [0, n_frames - fps], both ends reachable
    assert set(np.unique(start)) == set(range(46))


def test_random_crop_starts_single_second_clip_always_starts_at_zero():
    _, start = random_crop_starts(
        n_clips=3, n_visual_frames=5, visual_fps=5, crops_per_clip=4, rng=np.random.default_rng(1)
    )
    np.testing.assert_array_equal(start, np.zeros(12))


def test_random_crop_starts_seeded():
    a = random_crop_starts(n_clips=5, n_visual_frames=15, crops_per_clip=2, rng=np.random.default_rng(42))
    b = random_crop_starts(n_clips=5, n_visual_frames=15, crops_per_clip=2, rng=np.random.default_rng(42))
    c = random_crop_starts(n_clips=5, n_visual_frames=15, crops_per_clip=20, rng=np.random.default_rng(43))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1][:10])


def test_fixed_segments_covers_every_second():
    clip_index, start, segment = fixed_segments(n_clips=3, n_seconds=10, visual_fps=5)
    assert clip_index.shape == start.shape == segment.shape == (30,)
    for c in range(3):
        sel = clip_index == c
        np.testing.assert_array_equal(segment[sel], np.arange(10))
        np.testing.assert_array_equal(start[sel], np.arange(10) * 5)
    # the segments tile each clip's visual frames exactly once
    covered = np.concatenate([np.arange(s, s + 5) for s in start[clip_index == 0]])
    np.testing.assert_array_equal(covered, np.arange(50))


def _frame_indexed(n_clips=4, seconds=3, bands=6, channels=3, dim=8):
    """Arrays whose value is the frame index (+1000 × clip), to check alignment exactly."""
    a_frames, v_frames = seconds * 50, seconds * 5
    audio = (
        np.broadcast_to(np.arange(a_frames)[None, None, :, None], (n_clips, bands, a_frames, channels)).astype(
            np.float32
        )
        + 1000 * np.arange(n_clips)[:, None, None, None]
    )
    visual = (
        np.broadcast_to(np.arange(v_frames)[None, :, None], (n_clips, v_frames, dim)).astype(np.float32)
        + 1000 * np.arange(n_clips)[:, None, None]
    )
    return audio, visual


def test_gather_audio_and_visual_are_aligned():
    audio, visual = _frame_indexed()
    rng = np.random.default_rng(5)
    clip_index, start = random_crop_starts(n_clips=4, n_visual_frames=15, crops_per_clip=6, rng=rng)
    a = gather_audio(audio, clip_index, start, ratio=10, frames=50)
    v = gather_visual(visual, clip_index, start, steps=5)
    assert a.shape == (24, 6, 50, 3)
    assert v.shape == (24, 5, 8)
    for i, (c, s) in enumerate(zip(clip_index, start)):
        a_first = a[i, 0, 0, 0] - 1000 * c
        v_first = v[i, 0, 0] - 1000 * c
        assert v_first == s
        assert a_first == 10 * s  # audio start = 10 × visual start (50 vs 5 frames per second)
        np.testing.assert_array_equal(
            a[i, :, :, :] - 1000 * c, np.broadcast_to(np.arange(10 * s, 10 * s + 50)[None, :, None], (6, 50, 3))
        )
        np.testing.assert_array_equal(v[i] - 1000 * c, np.broadcast_to(np.arange(s, s + 5)[:, None], (5, 8)))
        # both cover the same second: audio frames [10s, 10s+50) ↔ visual frames [s, s+5)
        assert a_first / 50 == pytest.approx(v_first / 5)


def test_gather_on_fixed_segments_reassembles_the_clip():
    audio, visual = _frame_indexed(n_clips=2, seconds=3)
    clip_index, start, _ = fixed_segments(n_clips=2, n_seconds=3)
    a = gather_audio(audio, clip_index, start)
    v = gather_visual(visual, clip_index, start)
    np.testing.assert_array_equal(np.concatenate(list(a[:3]), axis=1), audio[0])
    np.testing.assert_array_equal(np.concatenate(list(v[3:]), axis=0), visual[1])


def _batch(n=16, seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.standard_normal((n, 4, 50, 3)).astype(np.float32)
    xv = rng.standard_normal((n, 5, 8)).astype(np.float32)
    y = one_hot(rng.integers(0, 10, n))
    return [xa, xv], y


def test_mixup_alpha_zero_is_identity():
    x, y = _batch()
    mx, my = mixup(x, y, alpha=0.0, rng=np.random.default_rng(0))
    for a, b in zip(mx, x):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(my, y)


def test_mixup_labels_are_distributions():
    x, y = _batch(64)
    _, my = mixup(x, y, alpha=0.4, rng=np.random.default_rng(3))
    assert my.shape == y.shape
    np.testing.assert_allclose(my.sum(axis=1), 1.0, rtol=1e-6)
    assert (my >= 0).all() and (my <= 1).all()
    assert not np.array_equal(my, y)


def test_mixup_is_one_lambda_combination_per_example():
    x, y = _batch(32)
    seed = 11
    mx, my = mixup(x, y, alpha=0.4, rng=np.random.default_rng(seed))
    # replay the generator: λ then the permutation, as the implementation draws them
    rng = np.random.default_rng(seed)
    lam = rng.beta(0.4, 0.4, size=32).astype(np.float32)
    perm = rng.permutation(32)
    np.testing.assert_allclose(
        mx[0], lam[:, None, None, None] * x[0] + (1 - lam[:, None, None, None]) * x[0][perm], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(
        mx[1], lam[:, None, None] * x[1] + (1 - lam[:, None, None]) * x[1][perm], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(my, lam[:, None] * y + (1 - lam[:, None]) * y[perm], rtol=1e-6)
    # the same λ for every input: recover λ from the audio and check it on the visual input and labels
    i = int(np.argmax(np.abs(x[0][perm] - x[0]).reshape(32, -1).max(1) > 0))
    diff_a = (x[0][i] - x[0][perm][i]).ravel()
    k = int(np.argmax(np.abs(diff_a)))
    lam_i = (mx[0][i].ravel()[k] - x[0][perm][i].ravel()[k]) / diff_a[k]
    assert lam_i == pytest.approx(lam[i], abs=1e-4)


def test_mixup_deterministic_per_seed():
    x, y = _batch()
    a = mixup(x, y, alpha=0.4, rng=np.random.default_rng(9))
    b = mixup(x, y, alpha=0.4, rng=np.random.default_rng(9))
    c = mixup(x, y, alpha=0.4, rng=np.random.default_rng(10))
    for u, v in zip(a[0] + [a[1]], b[0] + [b[1]]):
        np.testing.assert_array_equal(u, v)
    assert not np.allclose(a[1], c[1])


def test_one_hot():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
