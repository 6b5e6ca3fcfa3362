"""Shared entry wrapper for the pipeline stage modules: logging, params, one-line errors."""

from __future__ import annotations

from collections.abc import Callable

from avsc.config.settings import Params, find_root, load_params
from avsc.entry import run_entry, verbose_from_env
from avsc.logs import setup_logging


def run_stage(name: str, body: Callable[[Params], object]) -> None:
    """Load params.yaml from the repo root, run ``body(params)``; exit non-zero with one line on failure."""
    setup_logging()

    def call() -> int:
        body(load_params(find_root() / "params.yaml"))
        return 0

    code = run_entry(f"stage {name}", call, verbose=verbose_from_env())
    if code:
        raise SystemExit(code)
