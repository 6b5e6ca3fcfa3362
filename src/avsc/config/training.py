"""Settings of the training, evaluate, register and tune stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from avsc.config.base import Strict


class TrainSection(Strict):
    """One training stage (``train_audio``, ``train_visual``, ``train_fusion``, ``finetune``).

    The sections are shared by the systems: each system maps its training steps onto these four
    stages (see the README). ``optimizer``/``schedule`` pick the paper's optimiser: Adam with the
    learning rate halved on a validation plateau (SE-CRNN), AdamW with weight decay (dual-stream),
    SGD with cosine annealing and warm restarts from ``learning_rate`` down to ``min_learning_rate``
    (joint optimization; cycles of ``restart_epochs`` epochs growing by ``restart_mult``).

    ``gradient_accumulation_steps`` (bounded memory): each optimizer update averages the gradients
    of that many forward passes of :attr:`micro_batch_size` = ``batch_size / steps`` examples, so
    ``batch_size`` stays the effective batch of an update while activations are held for a
    micro-batch only (Keras' own optimizer accumulation). BatchNorm layers that train then see
    micro-batch statistics. 1 (default): one forward pass per update, as before.
    """

    epochs: int = Field(200, ge=0)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0)
    mixup_alpha: float = Field(0.4, ge=0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["plateau", "cosine_restarts"] = "plateau"
    min_learning_rate: float = Field(1e-5, ge=0)
    restart_epochs: int = Field(10, ge=1)
    restart_mult: float = Field(2.0, ge=1.0)
    reduce_lr_patience: int = 20
    reduce_lr_factor: float = 0.5
    early_stop_patience: int = 50
    steps_per_epoch: int | None = None
    crops_per_clip: int = Field(1, ge=1)
    mixed_precision: bool = False  # mixed_float16 compute, float32 outputs (a GPU speed-up; off on CPU)
    jit_compile: bool = False  # XLA-compile the train step (GPU; off on CPU)
    gradient_accumulation_steps: int = Field(1, ge=1)  # forward passes per update (batch_size / steps each)

    @property
    def micro_batch_size(self) -> int:
        """Examples per forward pass: ``batch_size / gradient_accumulation_steps``."""
        return self.batch_size // self.gradient_accumulation_steps

    @model_validator(mode="after")
    def _batch_divisible(self) -> TrainSection:
        if self.batch_size % self.gradient_accumulation_steps:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be divisible by gradient_accumulation_steps "
                f"({self.gradient_accumulation_steps}): each update averages equal micro-batches"
            )
        return self

    @model_validator(mode="after")
    def _floor_below_rate(self) -> TrainSection:
        if self.schedule == "cosine_restarts" and self.min_learning_rate > self.learning_rate:
            raise ValueError("min_learning_rate must not exceed learning_rate")
        return self


class EvaluateSection(Strict):
    """Evaluation on 1-s segments of fold1_evaluate; ``final_head: null`` = the system's final head."""

    final_head: Literal["audio", "visual", "early", "late", "fused"] | None = None
    batch_size: int = 64


class ModelNames(Strict):
    """One registered model per system, so promotion compares like with like."""

    secrnn: str = "avsc-fused"
    dualstream: str = "avsc-dualstream"
    joint: str = "avsc-joint"


class RegisterSection(Strict):
    """Model registry: a new version of the system's model per pipeline execution, alias ``alias``."""

    model_name: ModelNames = ModelNames()
    alias: str = "challenger"
    champion_alias: str = "champion"


class SecrnnSpace(Strict):
    """SE-CRNN search space: [low, high] ranges, GRU sizes as choices."""

    mixup_alpha: tuple[float, float] = (0.0, 1.0)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    visual_gru_units: tuple[int, ...] = (16, 32, 64)
    fusion_gru_units: tuple[int, ...] = (32, 64, 128)


class DualStreamSpace(Strict):
    """Dual-stream search space: learning rate and weight decay (log scale), mixup alpha."""

    learning_rate: tuple[float, float] = (1e-5, 1e-3)
    weight_decay: tuple[float, float] = (1e-3, 0.3)
    mixup_alpha: tuple[float, float] = (0.0, 1.0)


class JointSpace(Strict):
    """Joint-optimization search space: the cosine schedule's bounds (log scale) and mixup alpha."""

    learning_rate: tuple[float, float] = (1e-3, 5e-2)
    min_learning_rate: tuple[float, float] = (1e-6, 1e-4)
    mixup_alpha: tuple[float, float] = (0.0, 1.0)


class TuneSpace(Strict):
    """``tune.space``: one search space per system."""

    secrnn: SecrnnSpace = SecrnnSpace()
    dualstream: DualStreamSpace = DualStreamSpace()
    joint: JointSpace = JointSpace()


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
