"""Per-epoch checkpoints, atomic as a set: one folder per epoch, a pointer replaced last, verified on load."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

import avsc.training.checkpoints as checkpoints_module
from avsc.training.checkpoints import POINTER, Checkpoints, LoopState


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    net.optimizer.build(net.trainable_variables)
    return net


def _epochs(ckpts: Checkpoints, model, n: int, *, improved=lambda e: True) -> list[np.ndarray]:
    """Save ``n`` epochs, nudging the weights each time; returns the kernel saved at each epoch."""
    state = LoopState(fingerprint="fp", run_id="run-1")
    kernels = []
    for epoch in range(n):
        layer = model.layers[-1]
        layer.kernel.assign(layer.kernel.numpy() + 1.0)
        kernels.append(layer.kernel.numpy().copy())
        state.epoch = epoch + 1
        state.history.setdefault("val_accuracy", []).append(0.1 * epoch)
        ckpts.save(model, state, improved=improved(epoch))
    return kernels


def _kernel(path) -> np.ndarray:
    import keras

    return keras.saving.load_model(path, safe_mode=True).layers[-1].kernel.numpy()


def test_each_epoch_is_one_folder_and_only_the_last_two_are_kept(tmp_path, model):
    ckpts = Checkpoints(tmp_path / "ck")
    kernels = _epochs(ckpts, model, 3, improved=lambda e: e == 1)
    assert sorted(p.name for p in ckpts.folder.iterdir()) == ["epoch-0002", "epoch-0003", POINTER]
    pointer = json.loads((ckpts.folder / POINTER).read_text())
    assert pointer["dir"] == "epoch-0003"

    loaded = Checkpoints(tmp_path / "ck").load("fp")
    assert loaded is not None and loaded.folder.name == "epoch-0003"
    assert loaded.state.epoch == 3 and loaded.state.run_id == "run-1"
    assert loaded.state.history["val_accuracy"] == pytest.approx([0.0, 0.1, 0.2])
    np.testing.assert_array_equal(_kernel(loaded.model), kernels[2])
    saved = json.loads((loaded.folder / "state.json").read_text())["files"]
    assert set(saved) == {"model.keras", "best.weights.h5"}
    # best: the weights of epoch 2 (the last improvement), carried into epoch 3's folder
    import keras

    best = keras.models.clone_model(model)
    best.load_weights(loaded.best)
    np.testing.assert_array_equal(best.layers[-1].kernel.numpy(), kernels[1])


def test_other_fingerprint_or_nothing_committed_is_no_checkpoint(tmp_path, model):
    assert Checkpoints(tmp_path / "none").load("fp") is None
    ckpts = Checkpoints(tmp_path / "ck")
    _epochs(ckpts, model, 1)
    assert Checkpoints(tmp_path / "ck").load("other") is None
    (ckpts.folder / POINTER).unlink()  # folders without a pointer were never committed
    assert Checkpoints(tmp_path / "ck").load("fp") is None


@pytest.mark.parametrize("damage", ["truncate model", "delete best", "edit state"])
def test_a_damaged_checkpoint_is_skipped_for_the_previous_one(tmp_path, model, caplog, damage):
    ckpts = Checkpoints(tmp_path / "ck")
    kernels = _epochs(ckpts, model, 3)
    last = ckpts.folder / "epoch-0003"
    if damage == "truncate model":
        data = (last / "model.keras").read_bytes()
        (last / "model.keras").write_bytes(data[: len(data) // 2])
    elif damage == "delete best":
        (last / "best.weights.h5").unlink()
    else:
        state = json.loads((last / "state.json").read_text())
        state["epoch"] = 7
        (last / "state.json").write_text(json.dumps(state))
    caplog.set_level(logging.WARNING)
    loaded = Checkpoints(tmp_path / "ck").load("fp")
    assert loaded is not None and loaded.folder.name == "epoch-0002" and loaded.state.epoch == 2
    np.testing.assert_array_equal(_kernel(loaded.model), kernels[1])
    assert "epoch-0003" in caplog.text and "damaged" in caplog.text


def test_a_crash_between_the_folder_and_the_pointer_keeps_the_previous_epoch(tmp_path, model, monkeypatch):
    ckpts = Checkpoints(tmp_path / "ck")
    kernels = _epochs(ckpts, model, 1)
    real = checkpoints_module.atomic_write_text

    def crash_on_pointer(path, text):
        if str(path).endswith(POINTER):
            raise RuntimeError("simulated crash before the pointer is replaced")
        real(path, text)

    monkeypatch.setattr(checkpoints_module, "atomic_write_text", crash_on_pointer)
    state = LoopState(fingerprint="fp", run_id="run-1", epoch=2, history={"val_accuracy": [0.0, 0.1]})
    with pytest.raises(RuntimeError, match="simulated crash"):
        ckpts.save(model, state, improved=True)
    monkeypatch.undo()
    assert (ckpts.folder / "epoch-0002" / "state.json").is_file()  # the uncommitted epoch's folder is complete ...
    loaded = Checkpoints(tmp_path / "ck").load("fp")  # ... but the pointer still names the previous one
    assert loaded is not None and loaded.folder.name == "epoch-0001"
    np.testing.assert_array_equal(_kernel(loaded.model), kernels[0])


def test_clear_removes_only_checkpoint_files(tmp_path, model):
    ckpts = Checkpoints(tmp_path / "ck")
    _epochs(ckpts, model, 2)
    (ckpts.folder / "notes.txt").write_text("mine")
    (ckpts.folder / "last.keras").write_bytes(b"old layout")
    ckpts.clear()
    assert sorted(p.name for p in ckpts.folder.iterdir()) == ["notes.txt"]
