"""Raw media → a system's probabilities, through the same code as the feature stages and ``evaluate``.

Used by the registered pyfunc model (and so by ``avsc predict`` and ``mlflow models serve``) and
by ``avsc submission``. Every check on a user's file raises :class:`~avsc.errors.DataError` with
the file named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.data.media import decode_frames, probe_audio, probe_video, read_audio, read_mp4_audio
from avsc.errors import DataError

EXPECTED_SR = 48000


@dataclass(frozen=True)
class ClipMedia:
    """A clip's audio ``(n_samples, 2)`` at 48 kHz, its video path and whole seconds available."""

    audio: np.ndarray
    sample_rate: int
    video: Path
    n_seconds: int


def _check_file(path: Path, kind: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: {kind} file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a file")
    return path


def load_clip(*, audio: Path | str | None, video: Path | str | None, limits: MediaLimits = DEFAULT_LIMITS) -> ClipMedia:
    """Read and check a clip: WAV (or the MP4's audio track), 48 kHz, stereo, at least 1 s, and its video.

    ``limits`` (``media`` in ``params.yaml``) bound the files' size, duration, resolution and decode time.
    """
    if video is None:
        raise DataError(
            "the fused model needs the video: give --video clip.mp4 (its audio track is used when --audio is absent)"
        )
    video = _check_file(Path(video), "video")
    vinfo = probe_video(video, limits=limits)
    if audio is not None:
        audio = _check_file(Path(audio), "audio")
        info = probe_audio(audio, limits=limits)
        if info.sample_rate != EXPECTED_SR:
            raise DataError(f"{audio}: sample rate {info.sample_rate} Hz, expected {EXPECTED_SR} Hz")
        if info.channels != 2:
            raise DataError(f"{audio}: {info.channels} channel(s), expected 2 (binaural stereo)")
        data, sr = read_audio(audio, limits=limits)
        source = audio
    else:
        data, sr = read_mp4_audio(video, limits=limits)
        source = video
        if sr != EXPECTED_SR:
            raise DataError(f"{video}: audio track at {sr} Hz, expected {EXPECTED_SR} Hz")
        if data.shape[1] != 2:
            raise DataError(f"{video}: audio track has {data.shape[1]} channel(s), expected 2")
    duration = data.shape[0] / sr
    n_seconds = int(min(duration, vinfo.duration_s + 0.05) + 1e-6)
    if n_seconds < 1:
        raise DataError(f"{source}: {min(duration, vinfo.duration_s):.2f} s of media, at least 1 s is needed")
    return ClipMedia(data[: n_seconds * sr], sr, video, n_seconds)


@dataclass(frozen=True)
class ClipInputs:
    """A clip's normalised audio features and its decoded frames ``(n_frames, H, W, 3)`` uint8."""

    n_seconds: int
    audio: np.ndarray
    frames: np.ndarray


@dataclass(frozen=True)
class BundleConfig:
    """What a registered model needs besides its weights (``config.json`` in the model's artifacts)."""

    system: str
    final_head: str
    heads: tuple[str, ...]
    modalities: tuple[str, ...]
    audio: dict
    visual: dict
    backbone_pretrained: bool

    @classmethod
    def from_params(cls, params, *, final_head: str, backbone_pretrained: bool) -> BundleConfig:
        """The config of the active system's final model."""
        from avsc.systems import get_system

        system = get_system(params.system)
        return cls(
            system=system.name,
            final_head=final_head,
            heads=tuple(system.heads),
            modalities=tuple(system.modalities("finetune", params)),
            audio=params.audio_features.model_dump(),
            visual=params.visual_features.model_dump(),
            backbone_pretrained=backbone_pretrained,
        )

    def to_json(self) -> str:
        import json
        from dataclasses import asdict

        return json.dumps({**asdict(self), "classes": "official DCASE order"}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> BundleConfig:
        import json

        raw = json.loads(text)
        return cls(
            system=raw["system"],
            final_head=raw["final_head"],
            heads=tuple(raw["heads"]),
            modalities=tuple(raw["modalities"]),
            audio=raw["audio"],
            visual=raw["visual"],
            backbone_pretrained=bool(raw.get("backbone_pretrained", False)),
        )

    def audio_settings(self):
        """The typed audio front-end settings of the model's system."""
        from avsc.config.features import AudioFeaturesBySystem

        kind = type(getattr(AudioFeaturesBySystem(), self.system))
        return kind.model_validate(self.audio)


class ModelBundle:
    """A trained system with its front end: the Keras model, normalisation statistics and backbone.

    The registered pyfunc, ``avsc predict`` and ``avsc submission`` classify raw media through this
    class, with the very functions the feature stages and ``evaluate`` use
    (:func:`avsc.features.frontends.compute_audio`, :func:`avsc.features.visual.embed_frames`,
    :func:`avsc.features.normalize.apply_stats`, the system's ``segment_scores``).
    """

    def __init__(self, *, config: BundleConfig, model, audio_stats, visual_stats, backbone) -> None:
        self.config = config
        self.model = model
        self.audio_stats = audio_stats
        self.visual_stats = visual_stats
        self.backbone = backbone
        self.audio_cfg = config.audio_settings()

    @classmethod
    def load(cls, *, config: Path, keras_model: Path, audio_stats: Path, visual_stats: Path, backbone: Path):
        """Load the artifacts of a registered model."""
        import keras

        from avsc.features.normalize import load_stats
        from avsc.models.backbone import build_backbone

        cfg = BundleConfig.from_json(Path(config).read_text())
        net = keras.saving.load_model(keras_model, safe_mode=True)
        bb, _ = build_backbone(
            kind=cfg.visual["backbone"], image_size=cfg.visual["image_size"], weights_path=None, quiet=True
        )
        bb.load_weights(backbone)
        return cls(
            config=cfg,
            model=net,
            audio_stats=load_stats(audio_stats),
            visual_stats=load_stats(visual_stats),
            backbone=bb,
        )

    def clip_arrays(self, media: ClipMedia, *, name: str, limits: MediaLimits = DEFAULT_LIMITS):
        """A clip's normalised features, as the feature stages compute them, for :meth:`probabilities`."""
        return self.batch_arrays([self.clip_inputs(media, limits=limits)], names=[name])

    def clip_inputs(self, media: ClipMedia, *, limits: MediaLimits = DEFAULT_LIMITS) -> ClipInputs:
        """A clip's normalised audio features and decoded frames (everything but the backbone)."""
        from avsc.features.frontends import audio_layout, compute_audio
        from avsc.features.normalize import apply_stats

        n = media.n_seconds
        layout = audio_layout(self.audio_cfg)
        audio = compute_audio(media.audio, media.sample_rate, cfg=self.audio_cfg, duration_s=float(n))
        mean, std = self.audio_stats
        audio = apply_stats(audio, mean=mean, std=std, time_axis=layout.time_axis)
        v = self.config.visual
        frames = decode_frames(
            media.video, fps=v["fps"], size=(v["image_size"],) * 2, duration_s=float(n), limits=limits
        )
        return ClipInputs(n_seconds=n, audio=audio, frames=frames)

    def batch_arrays(self, inputs: list[ClipInputs], *, names: list[str]):
        """Clips of equal length as one :class:`~avsc.training.arrays.ClipArrays`; the frames of all of
        them go through the backbone together (``features.visual.batch_size`` frames per call)."""
        from avsc.features.frontends import audio_layout
        from avsc.features.normalize import apply_stats
        from avsc.features.visual import embed_frames
        from avsc.training.arrays import ClipArrays

        n = inputs[0].n_seconds
        if any(i.n_seconds != n for i in inputs):
            raise ValueError("batch_arrays: clips of different lengths")
        layout = audio_layout(self.audio_cfg)
        v = self.config.visual
        frames = np.stack([i.frames for i in inputs])
        visual = raw = None
        if "visual" in self.config.modalities:
            vmean, vstd = self.visual_stats
            flat = frames.reshape((-1, *frames.shape[2:]))
            emb = embed_frames(self.backbone, flat, batch_size=v["batch_size"], kind=v["backbone"])
            emb = emb.reshape((len(inputs), frames.shape[1], -1))
            visual = np.stack([apply_stats(e, mean=vmean, std=vstd, time_axis=0) for e in emb])
        if "frames" in self.config.modalities:
            raw = frames
        return ClipArrays(
            clips=list(names),
            filenames=list(names),
            y=np.full(len(inputs), -1),
            n_seconds=n,
            audio=np.stack([i.audio for i in inputs]),
            audio_time_axis=layout.time_axis,
            audio_fps=layout.frames_per_second,
            visual=visual,
            visual_fps=int(v["fps"]),
            frames=raw,
        )

    def probabilities(self, arrays, *, batch_size: int = 64) -> np.ndarray:
        """The final head's probabilities of every 1-s segment of ``arrays``' clips, ``(n_segments, 10)``."""
        from avsc.systems import get_system

        scores = get_system(self.config.system).segment_scores(self.model, arrays, batch_size=batch_size)
        return scores.probas[self.config.final_head]

    def clip_probabilities(self, arrays, *, batch_size: int = 64) -> np.ndarray:
        """The final head's probabilities of every clip of ``arrays`` (mean of its 1-s segments), ``(n_clips, 10)``."""
        from avsc.systems import get_system

        scores = get_system(self.config.system).segment_scores(self.model, arrays, batch_size=batch_size)
        proba = scores.probas[self.config.final_head]
        out = np.zeros((len(arrays), proba.shape[1]))
        np.add.at(out, scores.clip_index, proba)
        return out / np.bincount(scores.clip_index, minlength=len(arrays))[:, None]
