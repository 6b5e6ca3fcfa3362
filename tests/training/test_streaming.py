"""Features read from disk on demand give the same batches, validation data and scores as in memory."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from avsc.config.settings import TrainSection, load_params
from avsc.features.normalize import apply_stats
from avsc.systems.base import bounded_segment_scores
from avsc.systems.dualstream import DualStream
from avsc.systems.joint import Joint
from avsc.systems.secrnn import Secrnn
from avsc.training import arrays as arrays_mod
from avsc.training.arrays import ClipArrays, ClipStack, in_memory, is_streamed, load_split


def _on_disk(tmp_path, name, data, transform=None):
    folder = tmp_path / name
    folder.mkdir()
    paths = []
    for i, clip in enumerate(data):
        paths.append(folder / f"c{i}.npy")
        np.save(paths[-1], clip)
    dtype = np.float32 if transform is not None else data.dtype
    return ClipStack(paths, clip_shape=data.shape[1:], dtype=dtype, transform=transform)


def _pair(tmp_path, *, n=7, audio_shape, audio_fps, audio_axis, visual_shape=None, frames_shape=None, fps=5):
    rng = np.random.default_rng(3)
    audio = rng.standard_normal((n, *audio_shape)).astype(np.float32)
    mean = audio.mean(axis=(0, 1 + audio_axis))
    std = audio.std(axis=(0, 1 + audio_axis)) + 0.1
    norm = partial(apply_stats, mean=mean, std=std, time_axis=audio_axis)
    disk = ClipArrays(
        clips=[f"c{i}" for i in range(n)],
        filenames=[f"c{i}.wav" for i in range(n)],
        y=rng.integers(0, 10, n),
        n_seconds=10,
        audio=_on_disk(tmp_path, "audio", audio, norm),
        audio_time_axis=audio_axis,
        audio_fps=audio_fps,
        visual_fps=fps,
    )
    if visual_shape is not None:
        disk.visual = _on_disk(tmp_path, "visual", rng.standard_normal((n, *visual_shape)).astype(np.float32))
    if frames_shape is not None:
        disk.frames = _on_disk(tmp_path, "frames", rng.integers(0, 255, (n, *frames_shape), dtype=np.uint8))
    memory = in_memory(disk)
    assert is_streamed(disk) and not is_streamed(memory)
    np.testing.assert_array_equal(memory.audio, np.stack([norm(a) for a in audio]))
    return disk, memory


def _same(a, b):
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    else:
        assert isinstance(a, np.ndarray) and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def _batches(system, step, arrays, cfg, seed=5):
    return list(system.epoch_batches(step, arrays, cfg=cfg, rng=np.random.default_rng([seed, 0])))


CFG = TrainSection(batch_size=3, crops_per_clip=2, mixup_alpha=0.4)


@pytest.mark.parametrize("step", ["audio", "visual", "fusion"])
def test_secrnn_batches_and_validation_match(tmp_path, step):
    disk, memory = _pair(tmp_path, audio_shape=(8, 500, 3), audio_fps=50.0, audio_axis=1, visual_shape=(50, 6))
    system = Secrnn()
    got, want = _batches(system, step, disk, CFG), _batches(system, step, memory, CFG)
    assert len(got) == len(want) == system.n_batches(step, disk, cfg=CFG)
    for (gx, gy), (wx, wy) in zip(got, want, strict=True):
        _same(gx, wx)
        _same(gy, wy)
    _same(system.validation_data(step, disk)[0], system.validation_data(step, memory)[0])


def test_dualstream_on_frames_matches(tmp_path):
    disk, memory = _pair(
        tmp_path, audio_shape=(100, 12), audio_fps=10.0, audio_axis=0, frames_shape=(10, 4, 4, 3), fps=1
    )
    system = DualStream()
    for (gx, gy), (wx, wy) in zip(
        _batches(system, "fusion", disk, CFG), _batches(system, "fusion", memory, CFG), strict=True
    ):
        _same(gx, wx)
        _same(gy, wy)


@pytest.mark.parametrize("step", ["audio", "fusion"])
def test_joint_frame_examples_match(tmp_path, step):
    disk, memory = _pair(
        tmp_path, audio_shape=(58, 2, 9), audio_fps=1 / 0.171, audio_axis=0, frames_shape=(10, 4, 4, 3), fps=1
    )
    system = Joint()
    for (gx, gy), (wx, wy) in zip(_batches(system, step, disk, CFG), _batches(system, step, memory, CFG), strict=True):
        _same(gx, wx)
        _same(gy, wy)
    _same(system.validation_data(step, disk)[0], system.validation_data(step, memory)[0])


class _MeanModel:
    """A stand-in model: softmax of the first ten input means (deterministic, no TensorFlow)."""

    def predict(self, x, batch_size, verbose=0):
        flat = x.reshape(len(x), -1)[:, :10]
        e = np.exp(flat - flat.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def test_chunked_scores_equal_in_memory_scores(tmp_path, monkeypatch):
    import avsc.systems.base as base

    monkeypatch.setattr(base, "CHUNK_CLIPS", 3)  # 7 clips: chunks of 3, 3, 1
    disk, memory = _pair(tmp_path, audio_shape=(8, 500, 3), audio_fps=50.0, audio_axis=1)
    system = Secrnn()
    got = bounded_segment_scores(system, _MeanModel(), disk, batch_size=4, step="audio")
    want = system.segment_scores(_MeanModel(), memory, batch_size=4, step="audio")
    for field in ("y", "clip_index", "segment"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
    np.testing.assert_allclose(got.probas["out"], want.probas["out"], rtol=0, atol=0)


def test_load_split_streams_the_same_numbers(features_workspace, monkeypatch):
    params = load_params(features_workspace / "params.yaml")
    memory = load_split(params, features_workspace, "train", modalities=("audio", "visual"))
    assert not is_streamed(memory)
    monkeypatch.setattr(arrays_mod, "IN_MEMORY_LIMIT", 1000)  # above the limit: on disk
    disk = load_split(params, features_workspace, "train", modalities=("audio", "visual"))
    assert is_streamed(disk) and disk.audio.shape == memory.audio.shape
    np.testing.assert_array_equal(np.asarray(disk.audio), memory.audio)
    np.testing.assert_array_equal(disk.visual[[2, 0, 2]], memory.visual[[2, 0, 2]])
    np.testing.assert_array_equal(disk.take(np.array([1, 3])).audio[:, 0], memory.audio[[1, 3], 0])
