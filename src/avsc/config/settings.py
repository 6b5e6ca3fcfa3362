"""Typed, strict settings loaded from ``params.yaml``.

Each top-level section of ``params.yaml`` loads into a frozen pydantic model that forbids unknown
keys, so a typo fails at start with the key named (``train_audio.learnig_rate: unknown key``).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ConfigDict, Field, ValidationError

from avsc.config.base import SYSTEMS, Strict, SystemName
from avsc.config.features import (
    AudioFeaturesBySystem,
    DualStreamAudioFeatures,
    FeaturesSection,
    LongTermFeatures,
    SecrnnAudioFeatures,
    VisualFeatures,
    VisualFeaturesBySystem,
)
from avsc.config.media import MediaLimits
from avsc.config.models import (
    DualStreamModel,
    ImageAugmentation,
    JointModel,
    ModelSection,
    SecrnnAudio,
    SecrnnFusion,
    SecrnnModel,
    SecrnnVisual,
)
from avsc.config.training import (
    EvaluateSection,
    ModelNames,
    RegisterSection,
    TrainSection,
    TuneSection,
    TuneSpace,
)
from avsc.errors import ConfigError


class BaseSection(Strict):
    """Shared settings: seed and output locations (relative to the repository root)."""

    seed: int = 2021
    profile: str = "default"
    features_dir: str = "data/features"
    models_dir: str = "models"
    reports_dir: str = "reports"
    experiment: str = "avsc"


class SyntheticSection(Strict):
    """The synthetic dataset generator's settings: the one place for their defaults and bounds.

    ``make run`` writes the embedded sample from ``data.synthetic`` when ``data.root`` is missing;
    ``avsc synth`` and :class:`avsc.data.synthetic.SynthConfig` take their defaults from here and
    are checked against these bounds (through :func:`synthetic_settings`).
    """

    clips_per_class: int = Field(default=6, ge=2, description="clips per scene class (4 or more: two train locations)")
    duration_s: float = Field(default=10.0, ge=1.0, description="clip length in seconds (at least one 1-s segment)")
    cities: int = Field(default=4, ge=1, le=10, description="number of cities, the first of avsc.data.tau.CITIES")
    video_width: int = Field(default=128, ge=16, multiple_of=2, description="video width in pixels (even: H.264 4:2:0)")
    video_height: int = Field(
        default=96, ge=16, multiple_of=2, description="video height in pixels (even: H.264 4:2:0)"
    )
    video_fps: int = Field(default=10, ge=1, description="video frame rate in frames per second")


class DataSection(Strict):
    """Where the dataset is and how the validation split is drawn."""

    root: str = "data/tau-synthetic"
    synthetic: SyntheticSection = SyntheticSection()
    validation_fraction: float = Field(0.1, gt=0.0, lt=0.5)
    manifest: str = "data/manifest.json"


class ValidateSection(Strict):
    """Dataset validation rules."""

    duration_s: float = 10.0
    duration_tolerance_s: float = 0.05
    sample_rate: int = 48000
    channels: int = 2
    report_dir: str = "reports/validation"


class Params(Strict):
    """Everything in ``params.yaml``."""

    base: BaseSection = BaseSection()
    data: DataSection = DataSection()
    validate_: ValidateSection = Field(ValidateSection(), alias="validate")
    media: MediaLimits = MediaLimits()
    features: FeaturesSection = FeaturesSection()
    model: ModelSection = ModelSection()
    train_audio: TrainSection = TrainSection()
    train_visual: TrainSection = TrainSection()
    train_fusion: TrainSection = TrainSection(batch_size=16)
    finetune: TrainSection = TrainSection(epochs=2, learning_rate=1e-5, batch_size=16)

    @property
    def system(self) -> str:
        """The active model system (``model.system``)."""
        return self.model.system

    @property
    def audio_features(self) -> SecrnnAudioFeatures | DualStreamAudioFeatures | LongTermFeatures:
        """The audio front end of the active system (``features.audio.<system>``)."""
        return self.features.audio_for(self.model.system)

    @property
    def visual_features(self) -> VisualFeatures:
        """The video front end of the active system (``features.visual.<system>``)."""
        return self.features.visual_for(self.model.system)

    def train_section(self, stage: str) -> TrainSection:
        """The settings of training stage ``stage`` (``train_audio`` ... ``finetune``)."""
        return getattr(self, stage)

    evaluate: EvaluateSection = EvaluateSection()
    register_: RegisterSection = Field(RegisterSection(), alias="register")
    tune: TuneSection = TuneSection()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, protected_namespaces=())


__all__ = [
    "SYSTEMS",
    "AudioFeaturesBySystem",
    "DualStreamAudioFeatures",
    "DualStreamModel",
    "EvaluateSection",
    "FeaturesSection",
    "ImageAugmentation",
    "JointModel",
    "LongTermFeatures",
    "MediaLimits",
    "ModelNames",
    "ModelSection",
    "Params",
    "RegisterSection",
    "SecrnnAudio",
    "SecrnnAudioFeatures",
    "SecrnnFusion",
    "SecrnnModel",
    "SecrnnVisual",
    "Strict",
    "SystemName",
    "TrainSection",
    "TuneSection",
    "TuneSpace",
    "VisualFeatures",
    "VisualFeaturesBySystem",
    "find_root",
    "load_params",
    "parse_params",
]


def synthetic_settings(**values: object) -> SyntheticSection:
    """:class:`SyntheticSection` from keyword values; a bad value is a one-line :class:`ConfigError`.

    ``synthetic_settings(video_width=33)`` raises ``synthetic dataset: video_width must be a multiple
    of 2 (got 33)``; several bad values are listed in the same line.
    """
    try:
        return SyntheticSection.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown setting")
                continue
            rule = err["msg"].replace("Input should be", "must be")
            problems.append(f"{key} {rule} (got {err['input']!r})")
        raise ConfigError("synthetic dataset: " + "; ".join(problems)) from None


def find_root(start: Path | None = None) -> Path:
    """Repository root: ``AVSC_ROOT`` or the nearest folder above ``start`` holding ``params.yaml``."""
    env = os.environ.get("AVSC_ROOT")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "params.yaml").is_file():
            return folder
    return here


def _format_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]).replace("validate_", "validate").replace("register_", "register")
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key")
        else:
            lines.append(f"{key}: {err['msg']}")
    return f"{path}: invalid params: " + "; ".join(lines)


def parse_params(raw: dict, *, source: Path | str = "params.yaml") -> Params:
    """Validate a params mapping into :class:`Params`; raise :class:`ConfigError` naming bad keys."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(Path(source), exc)) from None


def load_params(path: Path | str | None = None) -> Params:
    """Load and validate ``params.yaml`` (default: the one at the repository root)."""
    path = Path(path) if path else find_root() / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_params(raw, source=path)
