"""Typed, strict settings loaded from ``params.yaml``.

Each top-level section of ``params.yaml`` loads into a frozen pydantic model that forbids unknown
keys, so a typo fails at start with the key named (``train_audio.learnig_rate: unknown key``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avsc.errors import ConfigError


class Strict(BaseModel):
    """Base for every settings section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseSection(Strict):
    """Shared settings: seed and output locations (relative to the repository root)."""

    seed: int = 2021
    profile: str = "default"
    features_dir: str = "data/features"
    models_dir: str = "models"
    reports_dir: str = "reports"
    experiment: str = "avsc"


class SyntheticSection(Strict):
    """How ``make run`` creates the embedded synthetic sample when ``data.root`` is missing."""

    clips_per_class: int = Field(6, ge=2)
    duration_s: float = Field(10.0, gt=1.0)
    cities: int = Field(4, ge=2)
    video_width: int = 128
    video_height: int = 96
    video_fps: int = 10


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


class AudioFeatures(Strict):
    """Audio front end (SE-CRNN sec. 2.1.1)."""

    kind: Literal["gammatone", "logmel"] = "gammatone"
    sample_rate: int = 44100
    n_bands: int = 64
    window_s: float = 0.04
    hop_s: float = 0.02
    f_min: float = 50.0


class VisualFeatures(Strict):
    """Video front end (SE-CRNN sec. 2.2.1)."""

    fps: int = 5
    image_size: int = 224
    backbone: Literal["vgg16"] = "vgg16"
    weights: str | None = None
    keep_frames: bool = False
    batch_size: int = 25


class FeaturesSection(Strict):
    """Both feature stages."""

    workers: int = Field(2, ge=1)
    on_error: Literal["stop", "skip"] = "stop"
    audio: AudioFeatures = AudioFeatures()
    visual: VisualFeatures = VisualFeatures()


class AudioModel(Strict):
    """SE-ResNet audio module."""

    filters: tuple[int, ...] = (32, 64, 128)
    se_ratio: int = 2
    dropout: float = 0.3


class VisualModel(Strict):
    """Visual BiGRU head; ``gru_units`` per direction."""

    gru_units: int = 32


class FusionModel(Strict):
    """Early-fusion BiGRU; ``gru_units`` per direction."""

    gru_units: int = 64


class ModelSection(Strict):
    """SE-CRNN architecture."""

    system: Literal["secrnn"] = "secrnn"
    audio: AudioModel = AudioModel()
    visual: VisualModel = VisualModel()
    fusion: FusionModel = FusionModel()


class TrainSection(Strict):
    """One training step (sec. 2.5)."""

    epochs: int = Field(200, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    mixup_alpha: float = Field(0.4, ge=0)
    reduce_lr_patience: int = 20
    reduce_lr_factor: float = 0.5
    early_stop_patience: int = 50
    steps_per_epoch: int | None = None
    crops_per_clip: int = Field(1, ge=1)


class EvaluateSection(Strict):
    """Evaluation on 1-s segments of fold1_evaluate."""

    final_head: Literal["audio", "visual", "early", "late"] = "late"
    batch_size: int = 64


class RegisterSection(Strict):
    """Model registry."""

    model_name: str = "avsc-fused"
    alias: str = "challenger"
    champion_alias: str = "champion"


class TuneSpace(Strict):
    """Search space: [low, high] ranges."""

    mixup_alpha: tuple[float, float] = (0.0, 1.0)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    visual_gru_units: tuple[int, ...] = (16, 32, 64)
    fusion_gru_units: tuple[int, ...] = (32, 64, 128)


class TuneSection(Strict):
    """Optuna search."""

    storage: str = "journal:mlruns/optuna-journal.log"
    target: Literal["audio", "visual", "fusion"] = "visual"
    n_trials: int = 8
    max_epochs: int = 3
    pruner: Literal["median", "hyperband", "none"] = "median"
    sampler_seed: int = 2021
    space: TuneSpace = TuneSpace()
    best_params_file: str = "params-best.yaml"


class Params(Strict):
    """Everything in ``params.yaml``."""

    base: BaseSection = BaseSection()
    data: DataSection = DataSection()
    validate_: ValidateSection = Field(ValidateSection(), alias="validate")
    features: FeaturesSection = FeaturesSection()
    model: ModelSection = ModelSection()
    train_audio: TrainSection = TrainSection()
    train_visual: TrainSection = TrainSection()
    train_fusion: TrainSection = TrainSection(batch_size=16)
    finetune: TrainSection = TrainSection(epochs=2, learning_rate=1e-5, batch_size=16)
    evaluate: EvaluateSection = EvaluateSection()
    register_: RegisterSection = Field(RegisterSection(), alias="register")
    tune: TuneSection = TuneSection()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, protected_namespaces=())


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
