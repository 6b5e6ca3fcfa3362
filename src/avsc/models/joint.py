"""Joint-optimization AVSC system (Chen, Wang & Zhang, ICASSP 2022): res-DCNN acoustic encoder (AE),
frozen pretrained visual encoder (VE) and scene classifier (SC), trained with the "pipeline" or the
"joint" strategy.

Keras 3 functional models of built-in layers only (saved ``.keras`` files reload with
``safe_mode=True``). Every model nests its modules as sub-models named ``acoustic_encoder``,
``visual_encoder`` and ``scene_classifier`` (:data:`AE`, :data:`VE`, :data:`SC`).

Choices where the paper (Table 1) is silent, all in :class:`JointModel`:

* **Average pooling** "AvgPooling(pad=1, stride=2)" is PyTorch's ``AvgPool1d(k, stride=2, padding=1)``
  with its defaults (``count_include_pad=True``, floor): ``ZeroPadding1D(1)`` then
  ``AveragePooling1D(k, strides=2, padding="valid")`` is exactly that (the zeros are averaged in).
  The kernel is not given; ``pool_size=3`` is assumed (the usual pairing of padding 1 with stride 2;
  ``L -> floor((L - 1) / 2) + 1``). FBank 256 bins: conv/pool lengths 254/127, 125/63, 61/31, 29/15,
  so the conv output is 15 x 32 = 480 values; scalogram 290: 288/144, 142/71, 69/35, 33/17 -> 544.
* **"Residual"**: as Table 1 says, the flattened input (2 x bins) is concatenated with the flattened
  output of the fourth block (FBank: 512 + 480 = 992 values) before the 2048-unit layer. Sec. 2.1's
  "extra convolutional layer to match the dimension of input and output of each CNN block" is not in
  Table 1 and is not added.
* Convolutions and dense layers have biases (PyTorch defaults); BatchNormalization uses PyTorch's
  defaults (momentum 0.1 = Keras 0.9, epsilon 1e-5) since the authors' augmentation names are
  torchvision's.
* Input layout: one frame ``(2, bins)`` (channels x bins, as the front end
  :func:`avsc.features.longterm.longterm_features` returns per frame), permuted to Keras'
  channels-last ``(bins, 2)`` inside the encoder.
"""

from __future__ import annotations

from typing import Literal

import keras
import numpy as np
from keras import layers

from avsc.config.models import ImageAugmentation, JointModel
from avsc.errors import ConfigError, DataError
from avsc.models.augment import build_image_augmentation
from avsc.models.backbone import BackboneKind, preprocessing_layer

N_CLASSES = 10
AE, VE, SC = "acoustic_encoder", "visual_encoder", "scene_classifier"
STRATEGIES = ("pipeline", "joint")
Strategy = Literal["pipeline", "joint"]


DEFAULT_AUGMENTATION = ImageAugmentation()


def _walk(model: keras.Model):
    """Every layer of ``model``, nested models included (depth first)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer)


def _dense_bn_relu(x, units: int, cfg: JointModel, name: str):
    x = layers.Dense(units, name=f"{name}_dense")(x)
    x = layers.BatchNormalization(momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_acoustic_encoder(cfg: JointModel, *, n_bins: int, name: str = AE) -> keras.Model:
    """res-DCNN (Table 1): one frame ``(2, n_bins)`` -> ``encoder_units[-1]``-d (1024) audio embedding.

    Four blocks ``Conv1D(k=3, valid) -> BN -> ReLU -> ZeroPadding1D(1) -> AveragePooling1D(pool_size, 2)``
    with 4, 8, 16, 32 channels; Flatten(input) ++ Flatten(block 4); Dense 2048-BN-ReLU-Dropout;
    Dense 1024-BN-ReLU (the output, layer ``ae2_relu``).
    """
    inp = keras.Input((2, n_bins), name=f"{name}_input")
    x = layers.Permute((2, 1), name="ae_to_channels_last")(inp)  # (n_bins, 2)
    for i, channels in enumerate(cfg.conv_channels, start=1):
        x = layers.Conv1D(channels, cfg.conv_kernel, padding="valid", name=f"ae_conv{i}")(x)
        x = layers.BatchNormalization(momentum=cfg.bn_momentum, epsilon=cfg.bn_epsilon, name=f"ae_conv{i}_bn")(x)
        x = layers.Activation("relu", name=f"ae_conv{i}_relu")(x)
        x = layers.ZeroPadding1D(1, name=f"ae_pool{i}_pad")(x)
        x = layers.AveragePooling1D(cfg.pool_size, strides=2, padding="valid", name=f"ae_pool{i}")(x)
    if x.shape[1] is None or x.shape[1] < 1:
        raise ConfigError(f"acoustic encoder: {n_bins} bins are too few for {len(cfg.conv_channels)} conv blocks")
    skip = layers.Flatten(name="ae_flatten_input")(inp)
    x = layers.Flatten(name="ae_flatten_conv")(x)
    x = layers.Concatenate(name="ae_residual_concat")([skip, x])
    x = _dense_bn_relu(x, cfg.encoder_units[0], cfg, "ae1")
    x = layers.Dropout(cfg.dropout, name="ae1_dropout")(x)
    x = _dense_bn_relu(x, cfg.encoder_units[1], cfg, "ae2")
    return keras.Model(inp, x, name=name)


def build_scene_classifier(
    cfg: JointModel, *, input_dim: int, n_classes: int = N_CLASSES, name: str = SC
) -> keras.Model:
    """SC (Table 1): Dense 1024-BN-ReLU-Dropout 0.5 -> Dense ``n_classes`` softmax (layer ``sc_out``)."""
    inp = keras.Input((input_dim,), name=f"{name}_input")
    x = _dense_bn_relu(inp, cfg.classifier_units, cfg, "sc1")
    x = layers.Dropout(cfg.dropout, name="sc1_dropout")(x)
    out = layers.Dense(n_classes, activation="softmax", name="sc_out")(x)
    return keras.Model(inp, out, name=name)


def build_visual_encoder(
    backbone: keras.Model, *, kind: BackboneKind, augmentation: ImageAugmentation | None = DEFAULT_AUGMENTATION
) -> keras.Model:
    """VE for raw images: RGB 0-255 ``(s, s, 3)`` -> augmentation (training only) -> the family's
    preprocessing (:func:`avsc.models.backbone.preprocessing_layer`) -> frozen ``backbone`` -> embedding.

    The backbone is frozen (BatchNormalization in inference mode) and its own Dropout layers
    (EfficientNetV2's stochastic depth) are set to rate 0, so the VE is the same deterministic
    extractor as the cached embeddings of the pipeline strategy. Call the model with
    ``training=False`` (``predict``/``evaluate`` do) for inference: Keras augmentation layers are
    active when no ``training`` flag is given.
    """
    backbone.trainable = False
    for layer in _walk(backbone):
        if isinstance(layer, layers.Dropout):
            layer.rate = 0.0
    inp = keras.Input(backbone.input_shape[1:], name=f"{VE}_input")
    x = build_image_augmentation(augmentation)(inp) if augmentation is not None else inp
    x = preprocessing_layer(kind, name=f"{VE}_preprocess")(x)
    out = backbone(x)
    model = keras.Model(inp, out, name=VE)
    model.trainable = False
    return model


def build_audio_only(cfg: JointModel, *, n_bins: int, n_classes: int = N_CLASSES) -> keras.Model:
    """Audio-only system (sec. 3.3): AE + SC on one frame, input ``audio`` ``(2, n_bins)``."""
    inp = keras.Input((2, n_bins), name="audio")
    encoder = build_acoustic_encoder(cfg, n_bins=n_bins)
    classifier = build_scene_classifier(cfg, input_dim=cfg.encoder_units[-1], n_classes=n_classes)
    return keras.Model(inp, classifier(encoder(inp)), name="joint_audio")


def build_visual_only(cfg: JointModel, *, visual_dim: int, n_classes: int = N_CLASSES) -> keras.Model:
    """Video-only system (sec. 3.3): SC on frozen-VE embeddings, input ``visual`` ``(visual_dim,)``."""
    inp = keras.Input((visual_dim,), name="visual")
    classifier = build_scene_classifier(cfg, input_dim=visual_dim, n_classes=n_classes)
    return keras.Model(inp, classifier(inp), name="joint_visual")


def _fused(
    cfg: JointModel, *, n_bins: int, visual, visual_dim: int, n_classes: int, strategy: Strategy, name: str
) -> keras.Model:
    a_in = keras.Input((2, n_bins), name="audio")
    v_in = keras.Input(visual.input_shape[1:] if isinstance(visual, keras.Model) else (visual_dim,), name="visual")
    encoder = build_acoustic_encoder(cfg, n_bins=n_bins)
    v_emb = visual(v_in) if isinstance(visual, keras.Model) else v_in
    x = layers.Concatenate(name="fusion_concat")([encoder(a_in), v_emb])
    classifier = build_scene_classifier(cfg, input_dim=cfg.encoder_units[-1] + visual_dim, n_classes=n_classes)
    model = keras.Model({"audio": a_in, "visual": v_in}, classifier(x), name=name)
    return set_strategy(model, strategy, dropout=cfg.dropout)


def build_pipeline_fused(
    cfg: JointModel, *, n_bins: int, visual_dim: int, n_classes: int = N_CLASSES, strategy: Strategy = "pipeline"
) -> keras.Model:
    """Pipeline audio-visual system (sec. 3.3): SC on [AE(audio) ++ cached visual embedding].

    Inputs ``{"audio": (2, n_bins), "visual": (visual_dim,)}``. Start the AE from the audio-only
    system with :func:`copy_encoder`. ``strategy="joint"`` is the ablation "embedding + trainable AE"
    (Table 4, II).
    """
    return _fused(
        cfg,
        n_bins=n_bins,
        visual=None,
        visual_dim=visual_dim,
        n_classes=n_classes,
        strategy=strategy,
        name="joint_pipeline",
    )


def build_joint_fused(
    cfg: JointModel,
    *,
    n_bins: int,
    backbone: keras.Model,
    kind: BackboneKind,
    augmentation: ImageAugmentation | None = DEFAULT_AUGMENTATION,
    n_classes: int = N_CLASSES,
    strategy: Strategy = "joint",
) -> keras.Model:
    """Joint audio-visual system (sec. 2.2.3): SC on [AE(audio) ++ VE(augmented raw image)].

    Inputs ``{"audio": (2, n_bins), "visual": (s, s, 3)}`` (RGB, 0-255, not preprocessed; ``s`` is the
    backbone's input size). ``strategy="pipeline"`` is the ablation "raw image + pre-trained AE"
    (Table 4, III).
    """
    visual = build_visual_encoder(backbone, kind=kind, augmentation=augmentation)
    return _fused(
        cfg,
        n_bins=n_bins,
        visual=visual,
        visual_dim=int(visual.output_shape[-1]),
        n_classes=n_classes,
        strategy=strategy,
        name="joint_fused",
    )


def set_strategy(model: keras.Model, strategy: Strategy, *, dropout: float = 0.5) -> keras.Model:
    """Set what trains in a fused model (in place; recompile afterwards). Returns ``model``.

    ``pipeline`` (step 2 of the pipeline strategy): only the SC trains; the AE is frozen
    (BatchNormalization in inference mode) and its Dropout rate is set to 0, so it acts as the fixed
    embedding extractor of the paper (Keras passes ``training=True`` into every nested layer during
    ``fit``, so freezing alone would leave the AE's dropout on). ``joint``: AE and SC train, AE
    dropout ``dropout``. The VE, if any, is always frozen.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    names = [layer.name for layer in model.layers]
    if AE not in names or SC not in names:
        raise ConfigError(f"set_strategy: model {model.name!r} has no {AE!r} and {SC!r} sub-models")
    model.trainable = True
    encoder = model.get_layer(AE)
    encoder.trainable = strategy == "joint"
    for layer in _walk(encoder):
        if isinstance(layer, layers.Dropout):
            layer.rate = dropout if strategy == "joint" else 0.0
    model.get_layer(SC).trainable = True
    if VE in names:
        model.get_layer(VE).trainable = False
    return model


def copy_encoder(source: keras.Model, target: keras.Model) -> None:
    """Copy the AE weights of ``source`` (e.g. the trained audio-only system) into ``target``'s AE."""
    target.get_layer(AE).set_weights(source.get_layer(AE).get_weights())


def build_multihead(*, audio: keras.Model, visual: keras.Model, fused: keras.Model) -> keras.Model:
    """One model with inputs ``{"audio", "visual"}`` and outputs ``{"audio", "visual", "fused"}``.

    ``visual`` takes what ``fused`` takes as ``"visual"``: cached embeddings (pipeline system) or raw
    images (joint system, whose VE then runs once and feeds both the visual-only and the fused SC).
    Layers and weights are shared with the three models.
    """
    a_in = keras.Input(audio.input_shape[1:], name="audio")
    v_in = keras.Input(fused.input["visual"].shape[1:], name="visual")
    names = [layer.name for layer in fused.layers]
    v_emb = fused.get_layer(VE)(v_in) if VE in names else v_in
    x = layers.Concatenate(name="fusion_concat")([fused.get_layer(AE)(a_in), v_emb])
    outputs = {"audio": audio(a_in), "visual": visual(v_emb), "fused": fused.get_layer(SC)(x)}
    return keras.Model({"audio": a_in, "visual": v_in}, outputs, name="joint_multihead")


def segment_average(frame_proba: np.ndarray, frame_second: np.ndarray, n_seconds: int) -> np.ndarray:
    """Average the frame-level probabilities of each 1-s segment (the paper's test stage, sec. 3.2).

    Parameters
    ----------
    frame_proba : numpy.ndarray
        Shape ``(n_frames, n_classes)``.
    frame_second : numpy.ndarray
        Shape ``(n_frames,)``, the segment of every frame (:func:`avsc.features.longterm.frame_seconds`).
    n_seconds : int
        Number of segments.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_seconds, n_classes)``, float64: row ``s`` is the mean of the rows of ``frame_proba``
        whose ``frame_second`` is ``s``.

    Raises
    ------
    DataError
        If the shapes disagree, a segment index is out of range or a segment has no frame.
    """
    proba = np.asarray(frame_proba, dtype=np.float64)
    second = np.asarray(frame_second)
    if proba.ndim != 2 or second.shape != (proba.shape[0],):
        raise DataError(f"segment_average: frame_proba {proba.shape} and frame_second {second.shape} do not match")
    if second.size and (second.min() < 0 or second.max() >= n_seconds):
        raise DataError(
            f"segment_average: frame_second must lie in [0, {n_seconds}), got {second.min()}..{second.max()}"
        )
    counts = np.bincount(second.astype(np.int64), minlength=n_seconds)
    if np.any(counts == 0):
        raise DataError(f"segment_average: no frame in second(s) {np.flatnonzero(counts == 0).tolist()}")
    sums = np.zeros((n_seconds, proba.shape[1]))
    np.add.at(sums, second.astype(np.int64), proba)
    return sums / counts[:, None]
