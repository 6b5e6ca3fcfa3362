"""Clips a feature stage could not compute, and the ``features.on_error`` policy for them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from avsc.config.settings import Params
from avsc.errors import DataError
from avsc.io import atomic_write_text

log = logging.getLogger(__name__)


class Failures:
    """Stop at the first failure (``on_error: stop``), or skip up to ``max_skipped_fraction`` of the clips."""

    def __init__(self, params: Params, *, n_clips: int, files: dict[str, str]) -> None:
        self.on_error = params.features.on_error
        self.max_fraction = params.features.max_skipped_fraction
        self.n_clips = n_clips
        self.files = files
        self.errors: dict[str, str] = {}

    def add(self, clip: str, message: str) -> bool:
        """Record a failure; True when the stage must stop computing (on_error: stop, or over the ceiling)."""
        self.errors[clip] = message
        return self.on_error == "stop" or self._over_ceiling()

    def _over_ceiling(self) -> bool:
        return len(self.errors) > self.max_fraction * self.n_clips

    def settle(self, folder: Path) -> None:
        """Raise for ``stop`` or too many skipped clips; otherwise list them in ``skipped.json``."""
        if self.errors and self.on_error == "stop":
            _clip, message = next(iter(self.errors.items()))
            more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
            raise DataError(f"{message}{more}; set features.on_error: skip to exclude unreadable clips")
        if self._over_ceiling():
            first = ", ".join(self.files.get(c, c) for c in list(self.errors)[:3])
            raise DataError(
                f"{len(self.errors)} of {self.n_clips} clips could not be computed, more than "
                f"features.max_skipped_fraction ({self.max_fraction:g}); first: {first}"
            )
        atomic_write_text(folder / "skipped.json", json.dumps(self.errors, indent=1))
        for clip, message in self.errors.items():
            log.warning("skipped %s: %s", clip, message)
