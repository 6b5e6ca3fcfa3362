"""Parameter counts of a registered model, from the model itself (DCASE ``system.complexity``).

Total = the fine-tuned network + the frozen image backbone that computes its visual embeddings
(part of the system at inference, as the challenge counts it). Audio and visual are the weights
of the network's audio and visual branches (top-level layers named ``audio…`` / ``visual…``,
``video…``, ``image…``, ``frame…``, ``backbone…``) plus, for visual, the external backbone; the
fusion layers count in the total only.
"""

from __future__ import annotations

AUDIO_PREFIXES = ("audio",)
VISUAL_PREFIXES = ("visual", "video", "image", "frame", "backbone")


def _branch(layer_name: str) -> str:
    name = layer_name.lower()
    if any(p in name for p in AUDIO_PREFIXES):
        return "audio"
    if any(p in name for p in VISUAL_PREFIXES):
        return "visual"
    return "fusion"


def parameter_counts(model, *, backbone=None) -> dict[str, int]:
    """``{"total", "audio", "visual", "fusion", "backbone"}`` weights of ``model`` (+ ``backbone``)."""
    counts = {"audio": 0, "visual": 0, "fusion": 0}
    for layer in model.layers:
        counts[_branch(layer.name)] += int(layer.count_params())
    external = int(backbone.count_params()) if backbone is not None else 0
    counts["visual"] += external
    return {**counts, "backbone": external, "total": counts["audio"] + counts["visual"] + counts["fusion"]}


def bundle_counts(bundle) -> dict[str, int]:
    """Counts of a :class:`~avsc.inference.ModelBundle`; its backbone counts when the network takes
    its embeddings (``visual`` modality)."""
    uses_backbone = "visual" in bundle.config.modalities
    return parameter_counts(bundle.model, backbone=bundle.backbone if uses_backbone else None)
