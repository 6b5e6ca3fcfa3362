"""In-memory splits whose examples would exceed the in-memory limit are validated chunk by chunk."""

from __future__ import annotations

import numpy as np

import avsc.systems.base as base
from avsc.systems.joint import Joint
from avsc.training.arrays import ClipArrays
from avsc.training.batches import validation_input


def _arrays(n: int = 5) -> ClipArrays:
    rng = np.random.default_rng(0)
    return ClipArrays(
        clips=[f"c{i}" for i in range(n)],
        filenames=[f"c{i}.wav" for i in range(n)],
        y=rng.integers(0, 10, n),
        n_seconds=10,
        audio=rng.standard_normal((n, 58, 2, 9)).astype(np.float32),
        audio_fps=1 / 0.171,
        frames=rng.integers(0, 256, (n, 10, 4, 4, 3), dtype=np.uint8),
    )


def test_small_in_memory_split_stays_arrays():
    arrays = _arrays()
    assert not base.read_in_chunks(Joint(), "fusion", arrays)
    x, _ = validation_input(Joint(), "fusion", arrays, batch_size=16)
    assert isinstance(x, dict)


def test_expanding_in_memory_split_is_chunked_with_the_same_examples(monkeypatch):
    arrays = _arrays()
    per_clip = sum(v.nbytes for v in Joint().validation_data("fusion", _arrays(1))[0].values())
    assert per_clip > arrays.frames[0].nbytes * 10  # a clip's frame repeated for each acoustic frame
    monkeypatch.setattr(base, "IN_MEMORY_LIMIT", 3 * per_clip)
    monkeypatch.setattr(base, "CHUNK_CLIPS", 2)
    assert base.read_in_chunks(Joint(), "fusion", arrays)
    ds = validation_input(Joint(), "fusion", arrays, batch_size=16)
    batches = list(ds.as_numpy_iterator())
    (wx, wy) = Joint().validation_data("fusion", arrays)
    for key in ("audio", "visual"):
        got = np.concatenate([x[key] for x, _ in batches])
        assert got.dtype == wx[key].dtype
        np.testing.assert_array_equal(got, wx[key])
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), wy)
