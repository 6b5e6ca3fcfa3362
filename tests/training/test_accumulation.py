"""Gradient accumulation (``train_*.gradient_accumulation_steps``): micro-batches per optimizer update."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from pydantic import ValidationError

from avsc.config.settings import TrainSection, parse_params
from avsc.errors import ConfigError
from avsc.systems.base import System
from avsc.training.batches import micro_batches, training_dataset
from avsc.training.optimizers import build_optimizer
from avsc.training.stages import stage_params

X = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
Y = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0, 1]]


def test_default_is_one_pass_per_update():
    cfg = TrainSection(batch_size=16)
    assert cfg.gradient_accumulation_steps == 1 and cfg.micro_batch_size == 16
    assert micro_batches(cfg) is cfg
    assert build_optimizer(cfg, steps_per_epoch=1).gradient_accumulation_steps is None


def test_micro_batch_size_and_optimizer():
    cfg = TrainSection(batch_size=16, gradient_accumulation_steps=4, optimizer="adamw")
    assert cfg.micro_batch_size == 4
    assert micro_batches(cfg).batch_size == 4
    assert build_optimizer(cfg, steps_per_epoch=10).gradient_accumulation_steps == 4


@pytest.mark.parametrize("steps", [0, -2, 3])
def test_invalid_steps_rejected(steps):
    with pytest.raises(ValidationError):
        TrainSection(batch_size=16, gradient_accumulation_steps=steps)


def test_params_reject_indivisible_and_unknown_keys():
    with pytest.raises(ConfigError, match=r"train_fusion: .*divisible by gradient_accumulation_steps"):
        parse_params({"train_fusion": {"batch_size": 16, "gradient_accumulation_steps": 5}})
    with pytest.raises(ConfigError, match=r"train_fusion.gradient_accumulation: unknown key"):
        parse_params({"train_fusion": {"gradient_accumulation": 4}})


def test_recorded_in_the_stage_params():
    params = parse_params({"train_fusion": {"batch_size": 16, "gradient_accumulation_steps": 4}})
    assert stage_params(params, "fusion")["train"]["gradient_accumulation_steps"] == 4


class Rows(System):
    """A minimal system: each row of ``arrays`` is an example, batches in order."""

    name, heads, final_head, steps = "rows", ("out",), "out", {}

    def build(self, step, params, root_dir):  # pragma: no cover - not used
        raise NotImplementedError

    def epoch_batches(self, step, arrays, *, cfg, rng):
        for i in range(0, len(arrays[0]), cfg.batch_size):
            yield arrays[0][i : i + cfg.batch_size], arrays[1][i : i + cfg.batch_size]

    def n_batches(self, step, arrays, *, cfg):
        return int(np.ceil(len(arrays[0]) / cfg.batch_size))

    def validation_data(self, step, arrays):  # pragma: no cover - not used
        return arrays

    def segment_scores(self, model, arrays, *, batch_size, step=None):  # pragma: no cover - not used
        raise NotImplementedError


def test_dataset_yields_micro_batches():
    cfg = TrainSection(batch_size=8, gradient_accumulation_steps=4)
    ds, per_epoch = training_dataset(Rows(), "fusion", (X, Y), cfg=cfg, seed=0)
    assert per_epoch == 4
    sizes = [len(x) for x, _ in ds.take(4).as_numpy_iterator()]
    assert sizes == [2, 2, 2, 2]


def _model() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((5,))
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Dense(4)(inputs)))


def _compiled(cfg: TrainSection, steps_per_epoch: int) -> keras.Model:
    model = _model()
    model.compile(optimizer=build_optimizer(cfg, steps_per_epoch=steps_per_epoch), loss="categorical_crossentropy")
    return model


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_one_update_per_steps_micro_batches_equal_to_the_big_batch(optimizer):
    accumulated = TrainSection(batch_size=8, gradient_accumulation_steps=4, optimizer=optimizer, learning_rate=0.1)
    ds, per_epoch = training_dataset(Rows(), "fusion", (X, Y), cfg=accumulated, seed=0)
    model = _compiled(accumulated, per_epoch)
    start = [w.copy() for w in model.get_weights()]
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda *_, **__: seen.append(model.get_weights()))
    model.fit(ds, steps_per_epoch=4, epochs=1, verbose=0, shuffle=False, callbacks=[record])
    for weights in seen[:3]:  # 1 to 3 of 4 micro-batches: no update yet
        assert all(np.array_equal(a, b) for a, b in zip(start, weights, strict=True))
    after = seen[3]
    assert not any(np.array_equal(a, b) for a, b in zip(start, after, strict=True))

    big = _compiled(TrainSection(batch_size=8, optimizer=optimizer, learning_rate=0.1), 1)
    big.fit(X, Y, batch_size=8, epochs=1, verbose=0, shuffle=False)  # one update on the whole batch
    for a, b in zip(after, big.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
