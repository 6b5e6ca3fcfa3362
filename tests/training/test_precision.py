"""Mixed precision and XLA are params the training step honours (testable without a GPU)."""

from __future__ import annotations

import keras
import numpy as np

from avsc.config.models import SecrnnAudio
from avsc.config.settings import TrainSection
from avsc.models.secrnn import build_audio_module
from avsc.systems.secrnn import Secrnn
from avsc.training.precision import build_with_precision
from avsc.training.stages import compile_model


def test_off_by_default():
    cfg = TrainSection()
    assert cfg.mixed_precision is False and cfg.jit_compile is False


def test_model_builds_under_mixed_float16_and_outputs_float32():
    cfg = TrainSection(mixed_precision=True, jit_compile=True, batch_size=2)
    small = SecrnnAudio.model_validate(
        {**SecrnnAudio().model_dump(), "filters": [4]}
    )  # one block: XLA compiles in seconds
    model = build_with_precision(lambda: build_audio_module(small, n_bands=16, n_frames=16), cfg)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    compute = {layer.dtype_policy.compute_dtype for layer in model.layers if layer.weights}
    assert "float16" in compute
    assert str(model.output.dtype) == "float32"
    compile_model(Secrnn(), "audio", model, cfg=cfg, steps_per_epoch=1)
    assert model.jit_compile is True
    x = np.random.default_rng(0).standard_normal((2, 16, 16, 3)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[1, 2]]
    model.fit(x, y, epochs=1, verbose=0)
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1, atol=1e-2)
