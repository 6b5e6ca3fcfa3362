"""The settings of one ``avsc tune`` invocation: command-line flags over ``tune:`` of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avsc.config.settings import Params
from avsc.errors import ConfigError


@dataclass(frozen=True)
class TuneOptions:
    study_name: str
    target: str
    n_trials: int | None  # None: no budget (``--timeout`` alone)
    timeout: float | None
    max_epochs: int
    storage: str


def options_from_args(args: Any, params: Params) -> TuneOptions:
    t = params.tune
    n_trials = args.n_trials if args.n_trials is not None else (None if args.timeout else t.n_trials)
    opts = TuneOptions(
        study_name=args.study_name,
        target=args.target or t.target,
        n_trials=n_trials,
        timeout=args.timeout,
        max_epochs=args.max_epochs or t.max_epochs,
        storage=args.storage or t.storage,
    )
    if opts.n_trials is not None and opts.n_trials < 1:
        raise ConfigError("--n-trials must be at least 1")
    if opts.max_epochs < 1:
        raise ConfigError("--max-epochs must be at least 1")
    return opts
