"""Shared entry wrapper for the pipeline stage modules: logging, params, one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable

from avsc.config.settings import Params, find_root, load_params
from avsc.errors import AvscError, ValidationFailed
from avsc.logs import setup_logging


def run_stage(name: str, body: Callable[[Params], object]) -> None:
    """Load params.yaml from the repo root, run ``body(params)``; exit non-zero on a user error."""
    setup_logging()
    try:
        body(load_params(find_root() / "params.yaml"))
    except ValidationFailed as exc:
        print(f"stage {name}: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(1) from None
    except AvscError as exc:
        print(f"stage {name}: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
