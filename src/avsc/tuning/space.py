"""The search space: which params.yaml keys a target tunes, sampling them, and writing them back.

Optuna parameter names are the params.yaml keys (``train_visual.learning_rate``), so a trial's
parameters map onto ``params.yaml`` and onto ``dvc exp run -S key=value`` without translation.

One space per model system (``model.system``), with its ranges in ``tune.space.<system>``:
learning rate, mixup α and GRU sizes for the SE-CRNN; learning rate, weight decay and mixup α for
the dual-stream network; the cosine schedule's bounds and mixup α for the joint-optimization system.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from avsc.config.settings import Params
from avsc.config.training import DualStreamSpace, JointSpace, SecrnnSpace
from avsc.errors import ConfigError

STAGE = {"audio": "train_audio", "visual": "train_visual", "fusion": "train_fusion"}


class SearchSpace(Protocol):
    """What the tuner needs from a model system's search space."""

    def keys(self, target: str) -> list[str]:
        """The params.yaml keys a ``target`` search tunes."""
        ...

    def suggest(self, trial: Any, target: str) -> dict[str, Any]:
        """Sample one configuration from ``trial``: params.yaml key -> value."""
        ...

    def describe(self) -> dict[str, str]:
        """The ranges, for the MLflow parent run's params."""
        ...


@dataclass(frozen=True)
class SecrnnSearch:
    """SE-CRNN: the step's learning rate (log scale) and mixup alpha; the GRU size of the visual/fusion head."""

    ranges: SecrnnSpace

    def keys(self, target: str) -> list[str]:
        stage = STAGE[target]
        keys = [f"{stage}.learning_rate", f"{stage}.mixup_alpha"]
        if target in ("visual", "fusion"):
            keys.append(f"model.secrnn.{target}.gru_units")
        return keys

    def suggest(self, trial: Any, target: str) -> dict[str, Any]:
        r = self.ranges
        stage = STAGE[target]
        values: dict[str, Any] = {
            f"{stage}.learning_rate": trial.suggest_float(f"{stage}.learning_rate", *r.learning_rate, log=True),
            f"{stage}.mixup_alpha": trial.suggest_float(f"{stage}.mixup_alpha", *r.mixup_alpha),
        }
        if target in ("visual", "fusion"):
            units = r.visual_gru_units if target == "visual" else r.fusion_gru_units
            key = f"model.secrnn.{target}.gru_units"
            values[key] = trial.suggest_categorical(key, list(units))
        return values

    def describe(self) -> dict[str, str]:
        return {f"space.{k}": str(list(v)) for k, v in self.ranges.model_dump().items()}


@dataclass(frozen=True)
class DualStreamSearch:
    """Dual-stream: the step's learning rate and AdamW weight decay (log scale) and mixup alpha."""

    ranges: DualStreamSpace

    def keys(self, target: str) -> list[str]:
        stage = STAGE[target]
        return [f"{stage}.learning_rate", f"{stage}.weight_decay", f"{stage}.mixup_alpha"]

    def suggest(self, trial: Any, target: str) -> dict[str, Any]:
        r = self.ranges
        stage = STAGE[target]
        return {
            f"{stage}.learning_rate": trial.suggest_float(f"{stage}.learning_rate", *r.learning_rate, log=True),
            f"{stage}.weight_decay": trial.suggest_float(f"{stage}.weight_decay", *r.weight_decay, log=True),
            f"{stage}.mixup_alpha": trial.suggest_float(f"{stage}.mixup_alpha", *r.mixup_alpha),
        }

    def describe(self) -> dict[str, str]:
        return {f"space.{k}": str(list(v)) for k, v in self.ranges.model_dump().items()}


@dataclass(frozen=True)
class JointSearch:
    """Joint optimization: the cosine schedule's upper and lower learning rates (log scale) and mixup alpha."""

    ranges: JointSpace

    def keys(self, target: str) -> list[str]:
        stage = STAGE[target]
        return [f"{stage}.learning_rate", f"{stage}.min_learning_rate", f"{stage}.mixup_alpha"]

    def suggest(self, trial: Any, target: str) -> dict[str, Any]:
        r = self.ranges
        stage = STAGE[target]
        return {
            f"{stage}.learning_rate": trial.suggest_float(f"{stage}.learning_rate", *r.learning_rate, log=True),
            f"{stage}.min_learning_rate": trial.suggest_float(
                f"{stage}.min_learning_rate", *r.min_learning_rate, log=True
            ),
            f"{stage}.mixup_alpha": trial.suggest_float(f"{stage}.mixup_alpha", *r.mixup_alpha),
        }

    def describe(self) -> dict[str, str]:
        return {f"space.{k}": str(list(v)) for k, v in self.ranges.model_dump().items()}


def search_space(params: Params) -> SearchSpace:
    """The search space of ``params.model.system`` with its ranges in ``tune.space.<system>``."""
    system = params.model.system
    spaces = {"secrnn": SecrnnSearch, "dualstream": DualStreamSearch, "joint": JointSearch}
    if system not in spaces:
        raise ConfigError(f"params.yaml model.system {system!r}: no tuning search space (have {sorted(spaces)})")
    return spaces[system](getattr(params.tune.space, system))


def apply_values(params: Params, values: dict[str, Any], *, target: str, max_epochs: int) -> Params:
    """A copy of ``params`` with dotted ``values`` set and the step's epochs = ``max_epochs``."""
    data = params.model_dump(by_alias=True)
    for key, value in {**values, f"{STAGE[target]}.epochs": max_epochs}.items():
        node = data
        *parents, last = key.split(".")
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"tune: {key} is not a params.yaml key")
            node = node[part]
        if last not in node:
            raise ConfigError(f"tune: {key} is not a params.yaml key")
        node[last] = value
    return Params.model_validate(data)


def yaml_value(value: Any) -> str:
    """A value as DVC's ``-S key=value`` parses it back exactly (no exponent notation)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, unique=True, trim="0")
    return str(value)


def dvc_exp_line(best: dict[str, Any]) -> str:
    """The ``dvc exp run -S 'key=value' ...`` line that reproduces ``best`` through the pipeline."""
    return "dvc exp run " + " ".join(f"-S '{k}={yaml_value(v)}'" for k, v in sorted(best.items()))
