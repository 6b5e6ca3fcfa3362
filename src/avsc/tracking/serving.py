"""What a request to the served model may ask: media bytes, paths under an allowed root, and limits.

``mlflow models serve`` runs the registered pyfunc for any client that can reach it, so while
serving (MLflow sets ``_MLFLOW_IS_IN_SERVING_ENVIRONMENT``) the pyfunc applies these rules:

- ``video_b64`` / ``audio_b64``: the clip's MP4 / WAV bytes, base64-encoded, the way a client on
  another machine sends a clip. They are written to a private temporary folder, decoded under the
  request limits and deleted.
- ``video`` / ``audio`` file paths are refused unless ``AVSC_SERVE_ALLOWED_ROOT`` names a folder
  and the path, resolved (symlinks included), lies inside it.
- Limits (environment variables of the serving process): ``AVSC_SERVE_MAX_CLIP_BYTES`` (bytes of
  one clip's media, default 64 MiB), ``AVSC_SERVE_MAX_CLIPS`` (clips per request, default 8),
  ``AVSC_SERVE_DECODE_TIMEOUT_S`` (seconds to decode one file, default 60).

A request past a rule is answered with HTTP 400 and one line naming the rule: the pyfunc raises
:class:`mlflow.exceptions.MlflowException` with ``INVALID_PARAMETER_VALUE``, which the scoring
server turns into a 400 response.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from avsc.config.media import DEFAULT_LIMITS, MediaLimits
from avsc.errors import AvscError, DataError

#: MLflow's scoring server sets this to "true" in the serving process.
SERVING_FLAG = "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"
ALLOWED_ROOT_ENV = "AVSC_SERVE_ALLOWED_ROOT"
MAX_CLIP_BYTES_ENV = "AVSC_SERVE_MAX_CLIP_BYTES"
MAX_CLIPS_ENV = "AVSC_SERVE_MAX_CLIPS"
DECODE_TIMEOUT_ENV = "AVSC_SERVE_DECODE_TIMEOUT_S"


def is_serving() -> bool:
    """Whether this process is MLflow's model server (so requests come from other programs)."""
    return os.environ.get(SERVING_FLAG, "").lower() == "true"


@dataclass(frozen=True)
class ServeLimits:
    """The rules of one serving process (from its environment)."""

    allowed_root: Path | None = None
    max_clip_bytes: int = 64 * 1024 * 1024
    max_clips: int = 8
    decode_timeout_s: float = 60.0

    @classmethod
    def from_env(cls) -> ServeLimits:
        """The limits from ``AVSC_SERVE_*`` environment variables; a bad value is one line naming it."""
        root = os.environ.get(ALLOWED_ROOT_ENV) or None
        return cls(
            allowed_root=Path(root).resolve() if root else None,
            max_clip_bytes=_env_number(MAX_CLIP_BYTES_ENV, int, cls.max_clip_bytes),
            max_clips=_env_number(MAX_CLIPS_ENV, int, cls.max_clips),
            decode_timeout_s=_env_number(DECODE_TIMEOUT_ENV, float, cls.decode_timeout_s),
        )

    def media_limits(self, base: MediaLimits = DEFAULT_LIMITS) -> MediaLimits:
        """``base`` with the serving file-size and decode-time limits (the tighter of each)."""
        return base.model_copy(
            update={
                "max_file_bytes": min(base.max_file_bytes, self.max_clip_bytes),
                "decode_timeout_s": min(base.decode_timeout_s, self.decode_timeout_s),
            }
        )


def _env_number(name: str, kind, default):
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise AvscError(f"{name}={raw!r}: not a number") from None
    if value <= 0:
        raise AvscError(f"{name}={raw!r}: must be positive")
    return value


def check_clip_count(n: int, limits: ServeLimits) -> None:
    """Refuse a request with more clips than ``AVSC_SERVE_MAX_CLIPS``."""
    if n > limits.max_clips:
        raise DataError(
            f"request has {n} clips, over the limit of {limits.max_clips} clips per request ({MAX_CLIPS_ENV})"
        )


def allowed_path(path: str, limits: ServeLimits) -> Path:
    """``path`` when it resolves (symlinks included) inside ``AVSC_SERVE_ALLOWED_ROOT``; else a refusal."""
    if limits.allowed_root is None:
        raise DataError(
            f"{path}: file paths are refused by this server ({ALLOWED_ROOT_ENV} is not set); "
            "send the media itself as video_b64 / audio_b64"
        )
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(limits.allowed_root):
        raise DataError(f"{path}: outside the allowed root {limits.allowed_root} ({ALLOWED_ROOT_ENV})")
    return resolved


def decode_b64(text: str, *, field: str, limits: ServeLimits) -> bytes:
    """The bytes of a base64 field, refused before decoding when they would pass ``max_clip_bytes``."""
    if len(text) // 4 * 3 > limits.max_clip_bytes + 3:
        raise DataError(
            f"{field}: about {len(text) // 4 * 3} bytes, over the limit of {limits.max_clip_bytes} bytes per clip "
            f"({MAX_CLIP_BYTES_ENV})"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DataError(f"{field}: not valid base64") from None
    if not data:
        raise DataError(f"{field}: empty")
    return data


def check_clip_bytes(n_bytes: int, *, clip: str, limits: ServeLimits) -> None:
    """Refuse a clip whose media (video + audio) is more than ``max_clip_bytes``."""
    if n_bytes > limits.max_clip_bytes:
        raise DataError(
            f"{clip}: {n_bytes} bytes of media, over the limit of {limits.max_clip_bytes} bytes per clip "
            f"({MAX_CLIP_BYTES_ENV})"
        )


def request_error(message: str):
    """The exception the scoring server answers with HTTP 400 and ``message``."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)
