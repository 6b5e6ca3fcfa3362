"""Scene probabilities of a batch of evaluation clips through the registered model's own front end.

Each clip is read and its audio features computed on its own (:meth:`avsc.inference.ModelBundle.clip_inputs`,
the feature stages' functions); the image backbone and the network then run once per batch of
clips (:meth:`~avsc.inference.ModelBundle.batch_arrays`). A clip
that cannot be read is a :class:`ClipFailure` naming the file; the caller decides whether that
stops the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from avsc.errors import AvscError, DataError
from avsc.submission.clips import EvalClip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipFailure:
    """A clip that could not be classified, and why (one line naming the file)."""

    clip: EvalClip
    reason: str


def clip_failure(clip: EvalClip, exc: BaseException) -> ClipFailure:
    """The one-line reason of a clip's failure, naming its file."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    files = [str(p) for p in (clip.audio, clip.video) if p is not None]
    if any(f in text for f in files):
        return ClipFailure(clip, text[:300])
    return ClipFailure(clip, f"{' / '.join(files)}: cannot be decoded ({text[:200]})")


class ClipScorer:
    """Whole-clip probabilities of a :class:`~avsc.inference.ModelBundle` for batches of clips.

    Clips are read and their audio features computed one by one; every ``batch_size`` readable
    clips of equal length then go through the image backbone and the network together, so at most
    ``batch_size`` clips' frames are in memory.
    """

    def __init__(self, bundle, *, batch_size: int = 32, limits=None) -> None:
        from avsc.config.media import DEFAULT_LIMITS

        self.bundle = bundle
        self.batch_size = batch_size
        self.limits = limits or DEFAULT_LIMITS  # ``media`` of params.yaml

    def inputs(self, clip: EvalClip):
        """A clip's :class:`~avsc.inference.ClipInputs` (raises on a file that cannot be read)."""
        from avsc.inference import load_clip

        media = load_clip(audio=clip.audio, video=clip.video, limits=self.limits)
        return self.bundle.clip_inputs(media, limits=self.limits)

    def _run(self, group: list[tuple[int, EvalClip, object]], proba: np.ndarray) -> None:
        arrays = self.bundle.batch_arrays([x for _, _, x in group], names=[c.filename for _, c, _ in group])
        proba[[i for i, _, _ in group]] = self.bundle.clip_probabilities(arrays, batch_size=self.batch_size)

    def score(self, clips: list[EvalClip]) -> tuple[np.ndarray, list[ClipFailure]]:
        """``(probabilities (n, 10) with NaN rows for failures, failures)`` of ``clips``, in order."""
        proba = np.full((len(clips), 10), np.nan)
        failures: list[ClipFailure] = []
        groups: dict[int, list] = {}
        for i, clip in enumerate(clips):
            try:
                inputs = self.inputs(clip)
            except (AvscError, OSError, ValueError, RuntimeError) as exc:
                failures.append(clip_failure(clip, exc))
                continue
            group = groups.setdefault(inputs.n_seconds, [])
            group.append((i, clip, inputs))
            if len(group) >= self.batch_size:
                self._run(group, proba)
                group.clear()
        for group in groups.values():
            if group:
                self._run(group, proba)
        return proba, failures


def load_bundle(uri: str):
    """The :class:`~avsc.inference.ModelBundle` of a registered pyfunc model (any system)."""
    from avsc.predict import load_model

    model = load_model(uri)
    try:
        bundle = model.unwrap_python_model().bundle
    except AttributeError:
        raise DataError(f"{uri}: not an avsc scene model (no ModelBundle inside the pyfunc)") from None
    return bundle
