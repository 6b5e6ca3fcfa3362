"""SE-CRNN models: shapes, parameter counts against the paper, trainable sets, safe-mode save/load."""

from __future__ import annotations

import json
import logging

import keras
import numpy as np
import pytest

from avsc.config.models import SecrnnAudio, SecrnnFusion, SecrnnModel, SecrnnVisual
from avsc.errors import ConfigError
from avsc.models.backbone import build_visual_backbone, preprocess_frames
from avsc.models.blocks import conv_standard_post
from avsc.models.counting import count_params
from avsc.models.secrnn import (
    build_audio_module,
    build_fused_model,
    build_fused_model_with_backbone,
    build_secrnn,
    build_visual_module,
    build_visual_module_with_backbone,
    set_trainable,
)

RNG = np.random.default_rng(0)


def _audio(n=2):
    return RNG.standard_normal((n, 64, 50, 3)).astype("float32")


def _visual(n=2):
    return RNG.random((n, 5, 512)).astype("float32")


def within(ours, ref, tol=0.03):
    return abs(ours - ref) / ref <= tol


@pytest.fixture(scope="module")
def models():
    return build_secrnn(SecrnnModel())


def test_block_output_shape():
    inp = keras.Input((64, 50, 3))
    out = conv_standard_post(inp, 32, se_ratio=2, name="blk")
    model = keras.Model(inp, out)
    assert model.output_shape == (None, 64, 50, 32)
    assert model(_audio()).shape == (2, 64, 50, 32)


def test_audio_and_visual_shapes(models):
    audio, visual = models["audio"], models["visual"]
    assert audio.name == "audio" and visual.name == "visual"
    pa = audio.predict(_audio(), verbose=0)
    pv = visual.predict(_visual(), verbose=0)
    assert pa.shape == (2, 10) and pv.shape == (2, 10)
    np.testing.assert_allclose(pa.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(pv.sum(axis=1), 1.0, atol=1e-5)
    assert audio.get_layer("audio_features").output.shape == (None, 64, 12, 128)
    assert audio.get_layer("audio_out") is not None and visual.get_layer("visual_out") is not None


def test_fused_shapes(models):
    out = models["fused"].predict({"audio": _audio(), "visual": _visual()}, verbose=0)
    assert set(out) == {"audio", "visual", "early", "late"}
    for value in out.values():
        assert value.shape == (2, 10)
    assert models["fused"].get_layer("fusion_concat").output.shape == (None, 5, 640)


def test_fused_reuses_module_weights(models):
    audio, fused = models["audio"], models["fused"]
    x = _audio()
    np.testing.assert_allclose(
        fused.predict({"audio": x, "visual": _visual()}, verbose=0)["audio"], audio.predict(x, verbose=0), atol=1e-5
    )


def test_paper_parameter_counts():
    audio = build_audio_module(SecrnnAudio())
    visual = build_visual_module(SecrnnVisual(gru_units=32))
    assert within(audio.count_params(), 323_000)
    assert within(count_params(audio)["trainable"], 323_000)
    assert within(count_params(visual)["trainable"], 105_000)
    fused = build_fused_model(audio, visual, SecrnnFusion(gru_units=64))
    set_trainable(fused, step="fusion")
    assert within(count_params(fused)["trainable"], 272_000)


def test_paper_totals_with_backbone():
    section = SecrnnModel()
    visual = build_visual_module_with_backbone(section.visual, image_size=224, quiet=True)
    counts = count_params(visual)
    ratio = counts["total"] / 14_000_000
    print(f"visual total {counts['total']:,} = {ratio:.3f} x the paper's rounded 14M")
    assert 1.0 <= ratio < 1.07  # VGG16 conv base alone is 14.71M: the paper rounds
    assert within(counts["trainable"], 105_000)
    fused = build_fused_model_with_backbone(section, image_size=224, quiet=True)
    counts = count_params(fused)
    assert within(counts["total"], 15_000_000)
    assert within(counts["trainable"], 272_000)


def test_set_trainable(models):
    fused = models["fused"]
    set_trainable(fused, step="fusion")
    assert count_params(fused)["trainable"] == 272_704
    # the modules share their layers with the fused model: step 3 freezes them too
    assert count_params(models["visual"])["trainable"] == 0
    set_trainable(fused, step="finetune")
    c = count_params(fused)
    assert c["trainable"] == count_params(models["audio"])["trainable"] + 105_482 + 272_704
    set_trainable(fused, step="fusion")
    assert count_params(fused)["trainable"] == 272_704
    with pytest.raises(ValueError):
        set_trainable(fused, step="bogus")


def test_finetune_keeps_backbone_frozen():
    full = build_fused_model_with_backbone(SecrnnModel(), image_size=32, quiet=True)
    set_trainable(full, step="finetune")
    backbone = full.get_layer("backbone")
    assert not backbone.trainable and not backbone.trainable_weights
    assert count_params(full)["trainable"] == count_params(full.get_layer("fused"))["trainable"]


@pytest.mark.parametrize("which", ["audio", "visual", "fused"])
def test_save_load_safe_mode(models, which, tmp_path):
    model = models[which]
    x = {"audio": _audio(), "visual": _visual()}
    x = x if which == "fused" else x[which]
    before = model.predict(x, verbose=0)
    path = tmp_path / f"{which}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded.predict(x, verbose=0)
    if which == "fused":
        for key in before:
            np.testing.assert_allclose(after[key], before[key], rtol=1e-6, atol=1e-6)
    else:
        np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)


def test_backbone_small_and_save_load(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        visual = build_visual_module_with_backbone(SecrnnVisual(), image_size=32)
    assert any("RANDOM" in r.getMessage() for r in caplog.records)
    frames = preprocess_frames(RNG.integers(0, 256, (2, 5, 32, 32, 3), dtype=np.uint8))
    before = visual.predict(frames, verbose=0)
    assert before.shape == (2, 10)
    visual.save(tmp_path / "v.keras")
    after = keras.saving.load_model(tmp_path / "v.keras", safe_mode=True).predict(frames, verbose=0)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-6)


def test_backbone_weights(tmp_path):
    model, pretrained = build_visual_backbone(image_size=32, weights_path=None, quiet=True)
    assert not pretrained and not model.trainable
    path = tmp_path / "vgg.weights.h5"
    model.save_weights(path)
    loaded, pretrained = build_visual_backbone(image_size=32, weights_path=str(path))
    assert pretrained
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ConfigError, match="missing.h5"):
        build_visual_backbone(image_size=32, weights_path=str(tmp_path / "missing.h5"))
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    bad = tmp_path / "bad.weights.h5"
    other.save_weights(bad)
    with pytest.raises(ConfigError, match="bad.weights.h5"):
        build_visual_backbone(image_size=32, weights_path=str(bad))


def test_preprocess_frames_matches_keras():
    frames = RNG.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    ours = preprocess_frames(frames)
    ref = keras.applications.vgg16.preprocess_input(frames.astype("float32"))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, np.asarray(ref), atol=1e-4)


def test_model_summary_json(capsys):
    from avsc.cli import main

    assert main(["model-summary", "--profile", "paper", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"audio", "visual", "fused", "paper"}
    assert data.pop("paper")["audio"] == 323_000
    for module in data.values():
        assert set(module) == {"total", "trainable"}
    assert within(data["audio"]["total"], 323_000)
    assert within(data["fused"]["total"], 15_000_000)
    assert within(data["fused"]["trainable"], 272_000)
