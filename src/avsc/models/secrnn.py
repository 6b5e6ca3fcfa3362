"""SE-CRNN (Naranjo-Alcazar et al., DCASE 2021 Task 1B): audio, visual and fused models.

All models use the Keras 3 functional API and built-in layers only, so a saved ``.keras`` file
reloads with ``keras.saving.load_model(path, safe_mode=True)``.

Parameter counts with the paper settings (see ``avsc model-summary --profile paper``):
audio 323,274 (paper 323k); visual head 105,482 trainable (paper 105k); fusion layers 272,704
trainable (paper 272k); fused total with the 224×224 VGG16 conv base ≈ 15.4M (paper 15M).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from avsc.config.models import SecrnnAudio, SecrnnFusion, SecrnnModel, SecrnnVisual
from avsc.models.backbone import BACKBONE_NAME, EMBEDDING_DIM, build_visual_backbone
from avsc.models.blocks import conv_standard_post

N_CLASSES = 10
HEADS = ("audio", "visual", "early", "late")
AUDIO_FEATURES = "audio_features"
MODULES = ("audio_module", "visual_module")


def build_audio_module(
    cfg: SecrnnAudio, *, n_bands: int = 64, n_frames: int = 50, n_classes: int = N_CLASSES
) -> keras.Model:
    """Audio module (sec. 2.1.2): Conv-StandardPOST blocks, filters ``cfg.filters``.

    Between blocks: max-pooling (1, 2) (halves time only) then dropout ``cfg.dropout``. The last block's
    output is the layer ``audio_features`` (bands, frames/4, 128) used by early fusion. Head: global
    average pooling → the 128-d embedding (the last block has 128 filters, so no extra dense layer:
    the paper's "global average pooling into a 128-dimensional feature vector") → Dense(softmax)
    ``audio_out``. Details the paper leaves open: 'same' padding; bias-free SE layers (see blocks.py).
    With the paper settings: 323,274 weights (321,930 trainable + 1,344 BN statistics); paper: 323k.
    """
    inp = keras.Input((n_bands, n_frames, 3), name="audio_input")
    x = inp
    n = len(cfg.filters)
    for i, filters in enumerate(cfg.filters):
        last = i == n - 1
        x = conv_standard_post(
            x, filters, se_ratio=cfg.se_ratio, name=AUDIO_FEATURES if last else f"audio_block{i + 1}"
        )
        if not last:
            x = layers.MaxPooling2D(pool_size=(1, 2), name=f"audio_pool{i + 1}")(x)
            x = layers.Dropout(cfg.dropout, name=f"audio_dropout{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="audio_embedding")(x)
    out = layers.Dense(n_classes, activation="softmax", name="audio_out")(x)
    return keras.Model(inp, out, name="audio")


def _visual_head(x, cfg: SecrnnVisual, n_classes: int):
    x = layers.Bidirectional(layers.GRU(cfg.gru_units, return_sequences=True), name="visual_bigru")(x)
    x = layers.TimeDistributed(layers.Dense(n_classes, activation="softmax"), name="visual_frame_out")(x)
    return layers.GlobalAveragePooling1D(name="visual_out")(x)


def build_visual_module(
    cfg: SecrnnVisual, *, steps: int = 5, dim: int = EMBEDDING_DIM, n_classes: int = N_CLASSES
) -> keras.Model:
    """Visual module head (sec. 2.2.2) on cached VGG16 embeddings ``(steps, 512)``.

    BiGRU(``cfg.gru_units`` per direction, sequences) → time-distributed Dense(softmax) → temporal
    average ``visual_out``. gru_units=32 per direction (2×32 = the paper's "64-neuron" BiGRU) gives
    105,482 trainable weights (paper: 105k).
    """
    inp = keras.Input((steps, dim), name="visual_input")
    return keras.Model(inp, _visual_head(inp, cfg, n_classes), name="visual")


def build_visual_module_with_backbone(
    cfg: SecrnnVisual,
    *,
    image_size: int,
    weights_path: str | None = None,
    steps: int = 5,
    n_classes: int = N_CLASSES,
    quiet: bool = False,
) -> keras.Model:
    """Frames ``(steps, s, s, 3)`` (VGG16-preprocessed) → TimeDistributed(frozen VGG16) → visual head.

    The whole visual module of the paper (≈14.7M weights with s=224, 105k trainable); the pipeline
    caches the backbone embeddings instead and trains :func:`build_visual_module`.
    """
    backbone, _ = build_visual_backbone(image_size=image_size, weights_path=weights_path, quiet=quiet)
    frames = keras.Input((steps, image_size, image_size, 3), name="visual_frames")
    emb = layers.TimeDistributed(backbone, name="backbone")(frames)
    head = build_visual_module(cfg, steps=steps, dim=EMBEDDING_DIM, n_classes=n_classes)
    return keras.Model(frames, head(emb), name="visual_full")


def _audio_steps_pooling(n_frames: int, steps: int) -> tuple[int, int]:
    """Pool size and stride turning ``n_frames`` audio frames into ``steps`` steps (covers all frames)."""
    if n_frames < steps:
        raise ValueError(f"audio feature map has {n_frames} frames, fewer than {steps} visual steps")
    stride = n_frames // steps
    pool = n_frames - (steps - 1) * stride
    return pool, stride


def build_fused_model(
    audio: keras.Model, visual: keras.Model, cfg: SecrnnFusion, *, n_classes: int = N_CLASSES
) -> keras.Model:
    """Full audio-visual network (sec. 2.3), reusing the layers (and weights) of ``audio``/``visual``.

    Inputs ``{"audio": (64, 50, 3), "visual": (5, 512)}``; outputs ``{"audio", "visual", "early",
    "late"}`` (every head's softmax).

    Early fusion: the audio ``audio_features`` map (bands, T, 128) with T = 12 for 1-s inputs is
    averaged over the frequency bands (AveragePooling2D over all bands, i.e. a global average over
    frequency) and then average-pooled along time to the visual rate of 5 steps (AveragePooling1D with
    pool 4, stride 2 for T = 12: windows 0-3, 2-5, 4-7, 6-9, 8-11, all frames used); each step is
    concatenated with the 512-d VGG16 embedding of the frame → 640 features → BiGRU(``cfg.gru_units``
    per direction) → global average pooling → Dense(softmax) ``early_out``. Late fusion:
    Concatenate(audio, visual, early predictions) → Dense(softmax) ``late_out``. With gru_units=64:
    272,704 fusion weights (paper: 272k trainable).

    The audio and visual modules appear as nested models named ``audio_module`` and ``visual_module``
    (sharing the layers of ``audio``/``visual``; ``audio_module`` has two outputs, ``audio_features``
    and ``audio_out``), so the inputs can be named ``audio`` and ``visual`` like the output keys.
    """
    a_in = keras.Input(audio.input_shape[1:], name="audio")
    v_in = keras.Input(visual.input_shape[1:], name="visual")
    audio_two = keras.Model(
        audio.inputs, [audio.get_layer(AUDIO_FEATURES).output, audio.outputs[0]], name="audio_module"
    )
    visual_mod = keras.Model(visual.inputs, visual.outputs[0], name="visual_module")
    a_feat, a_out = audio_two(a_in)
    v_out = visual_mod(v_in)

    bands, frames, channels = a_feat.shape[1], a_feat.shape[2], a_feat.shape[3]
    steps = v_in.shape[1]
    x = layers.AveragePooling2D(pool_size=(bands, 1), name="fusion_freq_pool")(a_feat)
    x = layers.Reshape((frames, channels), name="fusion_freq_squeeze")(x)
    pool, stride = _audio_steps_pooling(frames, steps)
    x = layers.AveragePooling1D(pool_size=pool, strides=stride, name="fusion_time_pool")(x)
    x = layers.Concatenate(axis=-1, name="fusion_concat")([x, v_in])
    x = layers.Bidirectional(layers.GRU(cfg.gru_units, return_sequences=True), name="fusion_bigru")(x)
    x = layers.GlobalAveragePooling1D(name="fusion_gap")(x)
    early = layers.Dense(n_classes, activation="softmax", name="early_out")(x)
    late = layers.Concatenate(name="late_concat")([a_out, v_out, early])
    late = layers.Dense(n_classes, activation="softmax", name="late_out")(late)
    outputs = {"audio": a_out, "visual": v_out, "early": early, "late": late}
    model = keras.Model({"audio": a_in, "visual": v_in}, outputs, name="fused")
    init_late_fusion(model.get_layer("late_out"), n_classes=n_classes)
    return model


def init_late_fusion(layer, *, n_classes: int = N_CLASSES, scale: float = 5.0) -> None:
    """Start the late-fusion dense as a vote of the three heads (the paper does not give an init).

    Kernel = ``scale`` x three stacked identities, bias 0: at the start the late head's argmax is the
    argmax of the summed head probabilities, and training refines the weighting from there.
    """
    kernel = np.tile(np.eye(n_classes, dtype="float32"), (3, 1)) * scale
    layer.set_weights([kernel, np.zeros(n_classes, dtype="float32")])


def build_fused_model_with_backbone(
    model: SecrnnModel,
    *,
    image_size: int,
    weights_path: str | None = None,
    n_bands: int = 64,
    n_frames: int = 50,
    steps: int = 5,
    n_classes: int = N_CLASSES,
    quiet: bool = False,
) -> keras.Model:
    """The fused network on raw frames ``(steps, s, s, 3)``: frozen VGG16 + :func:`build_fused_model`.

    Used for parameter counting (≈15.4M total at s=224; paper 15M). Step-3 trainable set by default.
    """
    backbone, _ = build_visual_backbone(image_size=image_size, weights_path=weights_path, quiet=quiet)
    audio = build_audio_module(model.audio, n_bands=n_bands, n_frames=n_frames, n_classes=n_classes)
    visual = build_visual_module(model.visual, steps=steps, n_classes=n_classes)
    fused = build_fused_model(audio, visual, model.fusion, n_classes=n_classes)
    a_in = keras.Input((n_bands, n_frames, 3), name="audio")
    frames = keras.Input((steps, image_size, image_size, 3), name="visual_frames")
    emb = layers.TimeDistributed(backbone, name="backbone")(frames)
    outputs = fused({"audio": a_in, "visual": emb})
    full = keras.Model({"audio": a_in, "visual_frames": frames}, outputs, name="fused_full")
    set_trainable(full, step="fusion")
    return full


def _is_backbone(layer) -> bool:
    if layer.name in ("backbone", BACKBONE_NAME):
        return True
    return isinstance(layer, layers.TimeDistributed) and getattr(layer.layer, "name", "") == BACKBONE_NAME


def set_trainable(model: keras.Model, *, step: str) -> keras.Model:
    """Set the trainable flags of a fused model for a training step (recompile afterwards).

    ``fusion`` (step 3): the nested ``audio_module`` and ``visual_module`` are frozen; only the early-fusion
    BiGRU/dense and the late-fusion dense train (BatchNormalization in the frozen audio module runs in
    inference mode). ``finetune``: everything trains, except a VGG16 backbone if present, which stays
    frozen (the pipeline works on cached embeddings; the paper's fine-tuning cannot reach it either).
    Works on :func:`build_fused_model` and :func:`build_fused_model_with_backbone` models.
    """
    if step not in ("fusion", "finetune"):
        raise ValueError(f"step must be 'fusion' or 'finetune', got {step!r}")
    model.trainable = True
    for layer in model.layers:
        if _is_backbone(layer):
            layer.trainable = False
        elif isinstance(layer, keras.Model) and layer.name.startswith("fused"):
            set_trainable(layer, step=step)
        elif step == "fusion" and layer.name in MODULES:
            layer.trainable = False
        else:
            layer.trainable = True
    return model


def build_secrnn(
    section: SecrnnModel, *, n_bands: int = 64, n_frames: int = 50, steps: int = 5, n_classes: int = N_CLASSES
) -> dict[str, keras.Model]:
    """All three models from a :class:`SecrnnModel`: ``{"audio", "visual", "fused"}`` (fused shares layers)."""
    audio = build_audio_module(section.audio, n_bands=n_bands, n_frames=n_frames, n_classes=n_classes)
    visual = build_visual_module(section.visual, steps=steps, n_classes=n_classes)
    fused = build_fused_model(audio, visual, section.fusion, n_classes=n_classes)
    return {"audio": audio, "visual": visual, "fused": fused}
