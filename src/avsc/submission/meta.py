"""``<Label>.meta.yaml``: the system's meta information for DCASE 2021 Task 1B.

The author fields come from a small user-edited YAML file (:class:`AuthorsFile`), never invented.
Everything else is filled from the model itself: its config (features, backbone, system), its
parameter counts, and its own evaluate run (development-set log-loss and accuracy, overall and
per class; the data augmentation of its training stages; whether the backbone was pretrained).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from avsc.data.tau import CLASSES
from avsc.errors import ConfigError

#: ``Lastname_Institute_task1b_<1-4>``: four parts, the third the task, the fourth the system number.
LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9-]*_[A-Za-z0-9-]+_task1b_[1-4]$")

AUTHORS_TEMPLATE = """\
name: SE-CRNN audio-visual            # system name
abbreviation: SECRNN                  # at most 10 characters
authors:
  - lastname: Doe
    firstname: Jane
    email: jane.doe@example.org
    corresponding: true               # exactly one corresponding author
    affiliation:
      abbreviation: EXU
      institute: Example University
      department: Signal Processing
      location: Tampere, Finland
source_code: https://github.com/you/avsc   # optional
"""


def check_label(label: str) -> str:
    """``label`` if it is ``Lastname_Institute_task1b_N`` (N = 1…4), else :class:`ConfigError`."""
    if not LABEL.match(label):
        raise ConfigError(
            f"--label {label!r}: expected Lastname_Institute_task1b_N with N = 1..4 "
            "(four parts separated by '_', no '_' inside a part), e.g. Doe_EXU_task1b_1"
        )
    return label


class Affiliation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    abbreviation: str = Field(min_length=1)
    institute: str = Field(min_length=1)
    department: str | None = None
    location: str | None = None


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lastname: str = Field(min_length=1)
    firstname: str = Field(min_length=1)
    email: str = Field(min_length=3)
    affiliation: Affiliation | str
    corresponding: bool = False

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError(f"{value!r} is not an e-mail address")
        return value


class AuthorsFile(BaseModel):
    """The user-edited part of the meta information (see :data:`AUTHORS_TEMPLATE`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    abbreviation: str = Field(min_length=1, max_length=10)
    authors: list[Author] = Field(min_length=1)
    source_code: str | None = None

    @model_validator(mode="after")
    def _one_corresponding(self) -> AuthorsFile:
        n = sum(a.corresponding for a in self.authors)
        if n != 1:
            raise ValueError(f"exactly one author must have 'corresponding: true' ({n} have)")
        return self


def load_authors(path: Path | str) -> AuthorsFile:
    """Read and check the authors file; one line naming the file and the rule otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: authors file not found (see `avsc submission --help` for its fields)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return AuthorsFile.model_validate(raw or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise ConfigError(f"{path}: {where}: {err['msg']}") from None


#: Image datasets of pretrained backbone weights, recognised by the weights file name.
IMAGE_DATASETS = {
    "places365": ("Places365", "http://places2.csail.mit.edu/"),
    "imagenet": ("ImageNet", "https://www.image-net.org/"),
}

#: Per system: what its paper calls the machine-learning method and the modality combination.
SYSTEM_TEXT = {
    "secrnn": ("SE-CRNN (CNN + BiGRU with squeeze-excitation)", "early and late fusion"),
    "dualstream": ("dual-stream MLP on audio and visual embeddings", "early fusion"),
    "joint": ("joint audio-visual optimisation (CNN audio encoder + image encoder)", "early fusion"),
}


def external_datasets(visual: dict[str, Any], *, pretrained: bool) -> list[dict[str, Any]]:
    """The image dataset behind a pretrained backbone (none when the backbone is random)."""
    if not pretrained:
        return []
    weights = str(visual.get("weights") or "").lower()
    key = "places365" if "places" in weights else "imagenet"
    name, url = IMAGE_DATASETS[key]
    return [{"name": f"{name} ({visual.get('backbone')} weights)", "url": url, "total_audio_length": None}]


def _num(value: float | None, scale: float = 1.0) -> float:
    return float("nan") if value is None or not math.isfinite(value) else round(float(value) * scale, 6)


def development_results(metrics: dict[str, float], *, head: str) -> dict[str, Any]:
    """``results.development_dataset`` from an evaluate run's metrics (accuracy in %, log-loss in nats).

    A class with no value in the run (no segment of it) gets NaN, which YAML writes as ``.nan``.
    """

    def get(*keys: str) -> float | None:
        for key in keys:
            if key in metrics:
                return metrics[key]
        return None

    return {
        "overall": {
            "logloss": _num(get(f"{head}/logloss", "logloss")),
            "accuracy": _num(get(f"{head}/accuracy", "accuracy"), 100),
        },
        "class_wise": {
            c: {
                "logloss": _num(get(f"{head}/logloss/{c}")),
                "accuracy": _num(get(f"{head}/accuracy/{c}"), 100),
            }
            for c in CLASSES
        },
    }


def augmentation_text(run_params: dict[str, str]) -> str | None:
    """Data augmentation of the training stages, from the pipeline's key params (None when none)."""
    used = []
    if any(k.endswith("mixup_alpha") and _positive(v) for k, v in run_params.items()):
        used.append("mixup")
    image = [k for k, v in run_params.items() if "augmentation" in k and _positive(v)]
    if image:
        used.append("image augmentation")
    return ", ".join(used) or None


def _positive(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return str(value).lower() == "true"


def build_meta(
    *,
    label: str,
    authors: AuthorsFile,
    config: dict[str, Any],
    counts: dict[str, int],
    results: dict[str, Any],
    augmentation: str | None,
    source_code: str | None,
) -> dict[str, Any]:
    """The meta document (every field the Task 1B validator requires at every level).

    ``config`` is the model's ``config.json`` (:class:`avsc.inference.BundleConfig`), ``counts``
    ``{"total", "audio", "visual"}`` parameters.
    """
    system = str(config["system"])
    method, combination = SYSTEM_TEXT.get(system, (system, "early fusion"))
    visual = dict(config.get("visual") or {})
    audio = dict(config.get("audio") or {})
    pretrained = bool(config.get("backbone_pretrained"))
    datasets = external_datasets(visual, pretrained=pretrained)
    modalities = tuple(config.get("modalities") or ())
    return {
        "submission": {
            "label": label,
            "name": authors.name,
            "abbreviation": authors.abbreviation,
            "authors": [a.model_dump(exclude_none=True) for a in authors.authors],
        },
        "system": {
            "description": {
                "input_channels": "binaural",
                "input_sampling_rate": "48kHz",
                "acoustic_features": str(audio.get("kind", "log-mel energies")),
                "audio_embeddings": None,
                "visual_embeddings": f"{visual.get('backbone')} ({'pretrained' if pretrained else 'random'}, frozen)"
                if modalities and ("visual" in modalities or "frames" in modalities)
                else None,
                "data_augmentation": augmentation,
                "machine_learning_method": method,
                "ensemble_method_subsystem_count": None,
                "modality_combination": combination,
                "decision_making": "average of 1-s segment probabilities",
                "external_data_usage": "pretrained image backbone" if datasets else None,
            },
            "complexity": {
                "total_parameters": int(counts["total"]),
                "total_parameters_audio": int(counts["audio"]),
                "total_parameters_visual": int(counts["visual"]),
            },
            "external_datasets": datasets,
            "source_code": source_code,
        },
        "results": {"development_dataset": results},
    }


def meta_text(meta: dict[str, Any]) -> str:
    """YAML text of the meta document (keys in the order given)."""
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=False)
