"""Settings of the feature stages: one audio and one visual front end per model system.

``features.audio.<system>`` and ``features.visual.<system>`` hold the front end each system needs;
the ``features_audio``/``features_visual`` stages read the one of ``model.system`` (dvc.yaml lists
``features.audio.${model.system}``), so switching systems never recomputes another system's
features and DVC's run cache restores them when a system comes back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from avsc.config.base import Strict

BackboneKind = Literal["vgg16", "resnet50", "efficientnetv2s"]


class SecrnnAudioFeatures(Strict):
    """SE-CRNN audio front end (sec. 2.1.1): 3 channels (L, R, L-R), 64 bands, 40 ms / 20 ms."""

    kind: Literal["gammatone", "logmel"] = "gammatone"
    sample_rate: int = Field(44100, gt=0)
    n_bands: int = Field(64, ge=1)
    window_s: float = Field(0.04, gt=0)
    hop_s: float = Field(0.02, gt=0)
    f_min: float = Field(50.0, ge=0)


class DualStreamAudioFeatures(Strict):
    """Dual-stream audio input: one vector per 0.1-s hop.

    The paper uses 512-d OpenL3 embeddings (1-s window, 0.1-s hop, 256 mel bands, "env" content).
    OpenL3 cannot be installed here (its weights download at build time), so ``kind: logmel`` (the
    default, a documented deviation) computes a 256-band log-mel spectrum of the mono mix with the
    same window and hop, which the model projects to 512 with a learned Dense layer. ``kind:
    embeddings`` reads a user's own embeddings instead: ``embeddings_dir/<clip>.npy`` of shape
    ``(10 * seconds, 512)`` per clip (e.g. computed with openl3 elsewhere).
    """

    kind: Literal["logmel", "embeddings"] = "logmel"
    sample_rate: int = Field(48000, gt=0)
    n_bands: int = Field(256, ge=1)
    window_s: float = Field(1.0, gt=0)
    hop_s: float = Field(0.1, gt=0)
    f_min: float = Field(20.0, gt=0)
    embeddings_dir: str | None = None
    embedding_dim: int = Field(512, ge=1)


class LongTermFeatures(Strict):
    """Joint-optimization audio front end (Chen et al. sec. 2.2.1): long-term FBank or scalogram at
    16 kHz, 512-ms windows every 171 ms, average and difference channels (paper values by default)."""

    kind: Literal["fbank", "scalogram"] = "fbank"
    sample_rate: int = Field(default=16000, gt=0)
    window_s: float = Field(default=0.512, gt=0)
    hop_s: float = Field(default=0.171, gt=0)
    n_mels: int = Field(default=256, ge=1)
    n_wavelets: int = Field(default=290, ge=1)
    wavelets_per_octave: float = Field(default=45.0, gt=0)

    @property
    def n_bands(self) -> int:
        """Feature bins per channel: ``n_mels`` (FBank) or ``n_wavelets`` (scalogram)."""
        return self.n_mels if self.kind == "fbank" else self.n_wavelets


class VisualFeatures(Strict):
    """Video front end: frames at ``fps`` through a frozen image backbone + global average pooling.

    ``weights`` is a local weights file for the backbone (nothing can be downloaded here); without
    one the backbone is random and frozen, with a warning, and every run is tagged
    ``backbone_pretrained=False``. ``keep_frames`` also caches the decoded frames (uint8), which the
    systems that train on raw images read (``data/features/frames``).
    """

    backbone: BackboneKind = "vgg16"
    fps: int = Field(5, ge=1)
    image_size: int = Field(224, ge=32)
    weights: str | None = None
    keep_frames: bool = False
    batch_size: int = Field(25, ge=1)


class AudioFeaturesBySystem(Strict):
    """``features.audio``: the audio front end of each system."""

    secrnn: SecrnnAudioFeatures = SecrnnAudioFeatures()
    dualstream: DualStreamAudioFeatures = DualStreamAudioFeatures()
    joint: LongTermFeatures = LongTermFeatures()


class VisualFeaturesBySystem(Strict):
    """``features.visual``: the video front end of each system."""

    secrnn: VisualFeatures = VisualFeatures()
    dualstream: VisualFeatures = VisualFeatures(backbone="resnet50", fps=1)
    joint: VisualFeatures = VisualFeatures(backbone="resnet50", fps=1, keep_frames=True)


class FeaturesSection(Strict):
    """Both feature stages. With ``on_error: skip``, a stage fails when more than
    ``max_skipped_fraction`` of the clips cannot be computed."""

    workers: int = Field(2, ge=1)
    on_error: Literal["stop", "skip"] = "stop"
    max_skipped_fraction: float = Field(0.05, ge=0.0, le=1.0)
    audio: AudioFeaturesBySystem = AudioFeaturesBySystem()
    visual: VisualFeaturesBySystem = VisualFeaturesBySystem()

    def audio_for(self, system: str) -> SecrnnAudioFeatures | DualStreamAudioFeatures | LongTermFeatures:
        """The audio front end of ``system``."""
        return getattr(self.audio, system)

    def visual_for(self, system: str) -> VisualFeatures:
        """The video front end of ``system``."""
        return getattr(self.visual, system)
