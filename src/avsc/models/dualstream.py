"""CNN-based dual-stream network (Hou et al., DCASE 2021 Task 1B): audio, image and fused models.

Keras 3 functional API, built-in layers only: saved ``.keras`` files reload with ``safe_mode=True``.
Every time axis is ``None``: one set of weights runs on whole 10-s clips (training, as in the paper)
and on the challenge's 1-s segments. Inputs per clip of ``n`` seconds: audio ``(10·n, d_audio)`` (one
vector per 0.1-s hop), visual ``(n, d_visual)`` (one frame per second).

Architecture (each module is a nested model, so it can be counted, frozen or copied on its own)::

    audio (10n, d_audio) ─[Dense → 512 if d_audio ≠ 512]─ self-attention ─ 4 × Conv1D ─→ (n, 256) ─┐
    visual (n, 2048) ─ Dense(256, relu) ─ BatchNorm ──────────────────────────────────→ (n, 256) ─┤
    fusion: concat per second (n, 512) ─ self-attention ─ Dense(256, relu) ─ max + mean over time
            ─ Dropout ─ Dense(10, softmax)

Sources of every size (P = the paper, A = the authors' code, Yuanbo2020/DCASE2021-T1B, ``Code/model.py``
and ``Code/sub_attention.py``, read as reference only; O = ours):

- Audio input 512-d OpenL3 (1-s window, 0.1-s hop, 256 mel bands, "env") — P. OpenL3 cannot be installed
  here, so the default front end is 256-band log-mel (same window and hop) and a learned linear
  projection ``audio_projection`` (Dense 256 → 512) stands in for it — O, a deviation. With ``d_audio ==
  audio_dim`` (OpenL3-like input) there is no projection.
- Audio self-attention: one encoder layer, width 512, 8 heads × key 64, feed-forward 512 (relu), post-norm
  residuals, no positional encoding — A. Keras' MultiHeadAttention scales the scores by 1/√64; A does
  not scale them (unscaled 64-d dot products saturate the softmax), so we keep Vaswani's scaling — O.
- Four conv layers, 256 output features per second — P ("four convolutional layers", emb_dim 256). A
  uses 2-D convs over (time, embedding) with 64/128/256/256 channels, kernels 1×7, 1×5, 1×5, 1×5 (kernel
  1 in time) and strides 3, 3, 1, 1 in time on 96 OpenL3 frames (96 → 32 → 31 → 11 → 10 → 10 → 10 with two
  2×2 max-pools), then averages over the embedding axis. That arithmetic only fits 96 input frames, so
  ours are 1-D over time (the 512 features are the channels): filters 256, 256, 256, 256; kernels 3, 3,
  3, 5; strides 1, 2, 1, 5 ('same' padding: 10 hops → 5 → 1 frame per second for any whole number of
  seconds); Conv → BatchNorm → ReLU (A's order), no conv bias since BatchNorm follows — O.
- Image branch: Dense(2048 → 256) → ReLU → BatchNorm (A's order and sizes; P: 256-d frames). A pools the
  ResNet50 map with max + average; our cached embeddings are ResNet50's global average only — O.
- Fusion: A's ``Mixed_model`` (the one its train.py trains) concatenates the two 256-d embeddings of
  each second (512-d) and runs one encoder layer (16 heads × key 32, feed-forward 512); the paper's
  "instead of simply splicing them together, we again use the self-attention layer" describes the same.
  We follow it rather than attend over 2n stacked tokens: concatenation keeps the audio and image of one
  second in one token, where stacked tokens would need modality and position embeddings (attention is
  blind to order and origin) that neither P nor A has. On a 1-s segment the attention sees one token
  and reduces to a learned projection + feed-forward, which still mixes the two modalities.
- Head: P: fully connected → the sum of max- and average-pooling over time → softmax. A's "fully
  connected" is the classifier itself (Dropout 0.5 → Linear 512 → 10, then max + mean of the logits).
  Ours, as the brief asks: Dense(256, relu) per second → max + mean → Dropout(0.5) → Dense(10, softmax);
  fc 256 — O, dropout 0.5 — A. The audio-only and image-only models (not in P or A; the pipeline's
  per-modality steps) put the same kind of head on their branch, without the fusion attention.
- Optimizer: P: Adam, lr 1e-4, weight decay 0.1, 50 epochs, batch 16; A's released train.py uses Adam
  lr 1e-4 with no weight decay. Ours: ``keras.optimizers.AdamW(1e-4, weight_decay=0.1)``, decoupled decay
  instead of PyTorch's L2-style Adam decay — O (why: :mod:`avsc.models.dualstream_training`).

Parameter counts (``parameter_counts``; total, BatchNorm statistics included): the paper gives none.
A comment in A records audio_net 2,113,024 and video 26,082,088 weights (both fit emb_dim 256); the latter
includes torchvision's unused 1000-class fc layer (2,049,000), so 24,033,088 without it; A's fusion
layers add 1,583,114 (our count from A's sizes), about 27.73M in all. Ours with the defaults: audio
branch 2,696,192 (OpenL3 input; 2,827,776 with the log-mel projection), image branch 525,568 (24,113,280
with Keras' ResNet50 at 224, which has conv biases torchvision's lacks), fusion 1,711,882 (A's + our
Dense 256), fused 4,933,642 on embeddings and 28,521,354 on frames.
"""

from __future__ import annotations

import keras
from keras import layers

from avsc.config.models import DualStreamModel
from avsc.models.counting import count_params
from avsc.models.dualstream_blocks import attention_block, classification_head, conv_downsampling
from avsc.models.secrnn import N_CLASSES

HEADS = ("audio", "visual", "fused")


def build_audio_branch(cfg: DualStreamModel, *, d_audio: int) -> keras.Model:
    """``(batch, 10·n, d_audio)`` → ``(batch, n, embed_dim)``: [projection] → self-attention → convs."""
    inp = keras.Input((None, d_audio), name="audio_embeddings")
    x = inp
    if d_audio != cfg.audio_dim:
        x = layers.Dense(cfg.audio_dim, name="audio_projection")(x)
    x = attention_block(
        x,
        heads=cfg.audio_heads,
        key_dim=cfg.audio_key_dim,
        ff_dim=cfg.audio_ff_dim,
        dropout=cfg.attention_dropout,
        name="audio_attention",
    )
    filters = (*cfg.conv_filters, cfg.embed_dim)
    x = conv_downsampling(x, filters=filters, kernels=cfg.conv_kernels, strides=cfg.conv_strides, name="audio_conv")
    return keras.Model(inp, x, name="audio_branch")


def build_image_branch(cfg: DualStreamModel, *, d_visual: int) -> keras.Model:
    """``(batch, n, d_visual)`` → ``(batch, n, embed_dim)``: Dense(relu) → BatchNorm."""
    inp = keras.Input((None, d_visual), name="image_embeddings")
    x = layers.Dense(cfg.embed_dim, activation="relu", name="image_projection")(inp)
    x = layers.BatchNormalization(name="image_bn")(x)
    return keras.Model(inp, x, name="image_branch")


def build_fusion(cfg: DualStreamModel, *, n_classes: int = N_CLASSES) -> keras.Model:
    """``[(batch, n, embed_dim)] × 2`` → ``(batch, n_classes)``: concat per second → attention → head."""
    a = keras.Input((None, cfg.embed_dim), name="audio_frames")
    v = keras.Input((None, cfg.embed_dim), name="image_frames")
    x = layers.Concatenate(axis=-1, name="fusion_concat")([a, v])
    x = attention_block(
        x,
        heads=cfg.fusion_heads,
        key_dim=cfg.fusion_key_dim,
        ff_dim=cfg.fusion_ff_dim,
        dropout=cfg.attention_dropout,
        name="fusion_attention",
    )
    out = classification_head(x, units=cfg.fc_units, dropout=cfg.dropout, n_classes=n_classes, name="fused")
    return keras.Model([a, v], out, name="fusion")


def build_audio_model(cfg: DualStreamModel, *, d_audio: int, n_classes: int = N_CLASSES) -> keras.Model:
    """Audio-only model ``"audio_model"``: ``(batch, 10·n, d_audio)`` → audio branch → head → ``(batch, n_classes)``."""
    inp = keras.Input((None, d_audio), name="audio")
    x = build_audio_branch(cfg, d_audio=d_audio)(inp)
    out = classification_head(x, units=cfg.fc_units, dropout=cfg.dropout, n_classes=n_classes, name="audio")
    return keras.Model(inp, out, name="audio_model")


def _visual_model(cfg: DualStreamModel, inp, emb, *, n_classes: int) -> keras.Model:
    x = build_image_branch(cfg, d_visual=int(emb.shape[-1]))(emb)
    out = classification_head(x, units=cfg.fc_units, dropout=cfg.dropout, n_classes=n_classes, name="visual")
    return keras.Model(inp, out, name="visual_model")


def build_visual_model(cfg: DualStreamModel, *, d_visual: int, n_classes: int = N_CLASSES) -> keras.Model:
    """Image-only model ``"visual_model"``: ``(batch, n, d_visual)`` → image branch → head → ``(batch, n_classes)``."""
    inp = keras.Input((None, d_visual), name="visual")
    return _visual_model(cfg, inp, inp, n_classes=n_classes)


def _fused_model(cfg: DualStreamModel, a_in, v_in, v_emb, *, d_audio: int, n_classes: int) -> keras.Model:
    ea = build_audio_branch(cfg, d_audio=d_audio)(a_in)
    ev = build_image_branch(cfg, d_visual=int(v_emb.shape[-1]))(v_emb)
    out = build_fusion(cfg, n_classes=n_classes)([ea, ev])
    return keras.Model({"audio": a_in, "visual": v_in}, out, name="fused_model")


def build_fused_model(cfg: DualStreamModel, *, d_audio: int, d_visual: int, n_classes: int = N_CLASSES) -> keras.Model:
    """Fused model ``"fused_model"``: inputs ``{"audio": (batch, 10·n, d_audio), "visual": (batch, n, d_visual)}``
    → ``(batch, n_classes)``; nested modules ``audio_branch``, ``image_branch``, ``fusion``.

    The audio input must have ``hops_per_frame`` times as many steps as the visual one (a mismatch fails
    at the concatenation when the model runs).
    """
    a_in = keras.Input((None, d_audio), name="audio")
    v_in = keras.Input((None, d_visual), name="visual")
    return _fused_model(cfg, a_in, v_in, v_in, d_audio=d_audio, n_classes=n_classes)


def _frames_through(backbone: keras.Model, *, image_size: int):
    """Frames input ``(batch, n, s, s, 3)`` named ``visual`` and the trainable backbone's ``(batch, n, d)``."""
    if len(backbone.output_shape) != 2:
        raise ValueError(f"backbone must end in global pooling (batch, d); its output is {backbone.output_shape}")
    if tuple(backbone.input_shape[1:3]) not in ((image_size, image_size), (None, None)):
        raise ValueError(f"backbone input {backbone.input_shape} does not take {image_size}x{image_size} frames")
    backbone.trainable = True
    frames = keras.Input((None, image_size, image_size, 3), name="visual")
    return frames, layers.TimeDistributed(backbone, name="backbone")(frames)


def build_fused_model_on_frames(
    cfg: DualStreamModel, *, backbone: keras.Model, d_audio: int, image_size: int, n_classes: int = N_CLASSES
) -> keras.Model:
    """The paper's network on raw frames: ``{"audio": (batch, 10·n, d_audio), "visual": (batch, n, s, s, 3)}``.

    ``backbone`` (an image model ending in global pooling, e.g. ResNet50 ``include_top=False,
    pooling="avg"``; frames preprocessed for it) runs on every frame through ``TimeDistributed`` (layer
    ``backbone``) and is set **trainable** (the paper fine-tunes ResNet50). The model owns the backbone
    object: pass a fresh one per model unless the weights are meant to be shared.
    """
    a_in = keras.Input((None, d_audio), name="audio")
    frames, emb = _frames_through(backbone, image_size=image_size)
    return _fused_model(cfg, a_in, frames, emb, d_audio=d_audio, n_classes=n_classes)


def build_visual_model_on_frames(
    cfg: DualStreamModel, *, backbone: keras.Model, image_size: int, n_classes: int = N_CLASSES
) -> keras.Model:
    """Image-only model on raw frames ``(batch, n, s, s, 3)``: trainable ``backbone`` → image branch → head."""
    frames, emb = _frames_through(backbone, image_size=image_size)
    return _visual_model(cfg, frames, emb, n_classes=n_classes)


def build_multihead_model(audio_model: keras.Model, visual_model: keras.Model, fused_model: keras.Model) -> keras.Model:
    """One model ``"dualstream"``: inputs ``{"audio", "visual"}`` → ``{"audio", "visual", "fused"}`` softmaxes.

    The three models are nested as they are (layers and weights shared with the arguments; their names,
    ``audio_model``, ``visual_model`` and ``fused_model``, must differ from the input names); the visual
    model and the fused model must take the same visual input (embeddings, or frames for both).
    """
    fused_in = fused_model.input
    if not isinstance(fused_in, dict) or set(fused_in) != {"audio", "visual"}:
        raise ValueError(f"model {fused_model.name!r} must take the inputs {{'audio', 'visual'}}")
    for key, model in (("audio", audio_model), ("visual", visual_model)):
        if tuple(fused_in[key].shape[1:]) != tuple(model.input_shape[1:]):
            raise ValueError(
                f"fused {key} input {fused_in[key].shape[1:]} differs from {model.name!r} input {model.input_shape[1:]}"
            )
    a_in = keras.Input(audio_model.input_shape[1:], name="audio")
    v_in = keras.Input(visual_model.input_shape[1:], name="visual")
    outputs = {
        "audio": audio_model(a_in),
        "visual": visual_model(v_in),
        "fused": fused_model({"audio": a_in, "visual": v_in}),
    }
    return keras.Model({"audio": a_in, "visual": v_in}, outputs, name="dualstream")


def parameter_counts(
    cfg: DualStreamModel,
    *,
    d_audio: int = 512,
    d_visual: int = 2048,
    image_size: int = 224,
    n_classes: int = N_CLASSES,
) -> dict[str, dict[str, int]]:
    """``{"total", "trainable"}`` weights per module (no weights loaded, no forward pass).

    Keys: ``audio_branch``, ``image_branch``, ``image_branch_resnet50`` (trainable ResNet50 at
    ``image_size`` + image branch), ``fusion``, ``audio`` and ``visual`` (unimodal models), ``fused``
    (on embeddings) and ``fused_resnet50`` (on frames, backbone trainable). The ResNet50 is Keras'
    ``include_top=False, pooling="avg"`` with random weights. BatchNorm statistics count in total only.
    """
    fused = build_fused_model(cfg, d_audio=d_audio, d_visual=d_visual, n_classes=n_classes)
    resnet = keras.applications.ResNet50(
        include_top=False, weights=None, pooling="avg", input_shape=(image_size, image_size, 3)
    )
    on_frames = build_fused_model_on_frames(
        cfg, backbone=resnet, d_audio=d_audio, image_size=image_size, n_classes=n_classes
    )
    image_with_resnet = {
        k: count_params(on_frames.get_layer("backbone"))[k] + count_params(on_frames.get_layer("image_branch"))[k]
        for k in ("total", "trainable")
    }
    return {
        "audio_branch": count_params(fused.get_layer("audio_branch")),
        "image_branch": count_params(fused.get_layer("image_branch")),
        "image_branch_resnet50": image_with_resnet,
        "fusion": count_params(fused.get_layer("fusion")),
        "audio": count_params(build_audio_model(cfg, d_audio=d_audio, n_classes=n_classes)),
        "visual": count_params(build_visual_model(cfg, d_visual=d_visual, n_classes=n_classes)),
        "fused": count_params(fused),
        "fused_resnet50": count_params(on_frames),
    }


__all__ = [
    "HEADS",
    "DualStreamModel",
    "build_audio_branch",
    "build_audio_model",
    "build_fused_model",
    "build_fused_model_on_frames",
    "build_fusion",
    "build_image_branch",
    "build_multihead_model",
    "build_visual_model",
    "build_visual_model_on_frames",
    "parameter_counts",
]
