"""Visual features of one clip: frozen-backbone embeddings of its decoded frames."""

from __future__ import annotations

import numpy as np

from avsc.models.backbone import BackboneKind, preprocess_frames


def embed_frames(backbone, frames: np.ndarray, *, batch_size: int, kind: BackboneKind = "vgg16") -> np.ndarray:
    """Embeddings of a clip's frames, ``batch_size`` frames per backbone call.

    Parameters
    ----------
    backbone : a Keras model mapping ``(n, H, W, 3)`` preprocessed frames to ``(n, dim)``
    frames : uint8 RGB frames, shape ``(n_frames, H, W, 3)``
    kind : the backbone family, whose preprocessing is applied (``features.visual.<system>.backbone``)

    Returns
    -------
    numpy.ndarray
        Shape ``(n_frames, dim)``, float32.
    """
    batch = preprocess_frames(frames, kind=kind)
    parts = [backbone(batch[i : i + batch_size], training=False).numpy() for i in range(0, len(batch), batch_size)]
    return np.concatenate(parts).astype(np.float32, copy=False)
