"""``avsc model-summary``: total and trainable weights per SE-CRNN module, against the paper (sec. 2.6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from avsc.config.settings import Params, load_params

log = logging.getLogger(__name__)

#: Sec. 2.6 of the paper (rounded there): audio 323k; visual 14M (105k trainable); full 15M (272k trainable).
PAPER: dict[str, int | dict[str, int]] = {
    "audio": 323_000,
    "visual": {"total": 14_000_000, "trainable": 105_000},
    "fused": {"total": 15_000_000, "trainable": 272_000},
}

FOOTNOTE = (
    "Totals include the frozen VGG16 conv base at features.visual.image_size ({size}x{size}: {backbone:,} weights).\n"
    "The paper's visual '14M' is rounded: the VGG16 conv base alone has 14.71M weights, so ~+6 % is expected.\n"
    "Audio: the paper counts 323k 'trainable weights'; total includes 1,344 BatchNorm statistics.\n"
    "Fused trainable = the step-3 set (early-fusion BiGRU/dense + late-fusion dense; modules frozen)."
)


def _paper_ref(module: str) -> dict[str, int]:
    ref = PAPER[module]
    return {"total": ref, "trainable": ref} if isinstance(ref, int) else dict(ref)


def _rel(ours: int, ref: int) -> float:
    return (ours - ref) / ref


def parameter_summary(params: Params) -> dict:
    """Count weights of the audio, visual (+ VGG16) and fused (+ VGG16) models built from ``params``.

    Returns ``{"audio": {"total", "trainable"}, "visual": {...}, "fused": {...}, "paper": PAPER,
    "diff": {module: {"total": rel, "trainable": rel}}, "backbone": int, "image_size": int}``.
    No weights are loaded and no forward pass is run.
    """
    import keras

    from avsc.models.counting import count_params
    from avsc.models.secrnn import (
        build_audio_module,
        build_fused_model_with_backbone,
        build_visual_module_with_backbone,
    )

    size = params.features.visual.secrnn.image_size
    n_bands = params.features.audio.secrnn.n_bands
    n_frames = round(1.0 / params.features.audio.secrnn.hop_s)
    steps = params.features.visual.secrnn.fps
    m = params.model.secrnn
    keras.backend.clear_session()
    audio = build_audio_module(m.audio, n_bands=n_bands, n_frames=n_frames)
    visual = build_visual_module_with_backbone(m.visual, image_size=size, steps=steps, quiet=True)
    fused = build_fused_model_with_backbone(
        m, image_size=size, n_bands=n_bands, n_frames=n_frames, steps=steps, quiet=True
    )
    counts = {"audio": count_params(audio), "visual": count_params(visual), "fused": count_params(fused)}
    backbone = int(visual.get_layer("backbone").count_params())
    diff = {}
    for module, c in counts.items():
        ref = _paper_ref(module)
        diff[module] = {k: _rel(c[k], ref[k]) for k in ("total", "trainable")}
    keras.backend.clear_session()
    return {**counts, "paper": PAPER, "diff": diff, "backbone": backbone, "image_size": size}


def format_table(summary: dict) -> str:
    """A readable table: module, total, trainable, paper (total / trainable), diff % (total / trainable)."""
    head = (
        f"{'module':<8} {'total':>12} {'trainable':>11} {'paper total':>12} {'paper train':>12} "
        f"{'diff total':>11} {'diff train':>11}"
    )
    lines = [head, "-" * len(head)]
    for module in ("audio", "visual", "fused"):
        c, ref, d = summary[module], _paper_ref(module), summary["diff"][module]
        lines.append(
            f"{module:<8} {c['total']:>12,} {c['trainable']:>11,} {ref['total']:>12,} {ref['trainable']:>12,} "
            f"{d['total'] * 100:>+10.1f}% {d['trainable'] * 100:>+10.1f}%"
        )
    lines.append("")
    lines.append(FOOTNOTE.format(size=summary["image_size"], backbone=summary["backbone"]))
    return "\n".join(lines)


def _load(args) -> Params:
    profile = getattr(args, "profile", None)
    if profile:
        from avsc.config.profiles import load_profile

        return load_profile(profile)
    params_path: Path | None = getattr(args, "params", None)
    return load_params(params_path)


def system_summary(params: Params, system: str) -> dict:
    """Total and trainable weights per module of ``system``, sized by ``params`` (no weights loaded)."""
    from avsc.models.backbone import embedding_dim

    if system == "secrnn":
        summary = parameter_summary(params)
        return {k: summary[k] for k in ("audio", "visual", "fused")} | {"paper": PAPER}
    if system == "dualstream":
        from avsc.models.dualstream import parameter_counts
        from avsc.systems.dualstream import audio_dim

        visual = params.features.visual.dualstream
        counts = parameter_counts(
            params.model.dualstream,
            d_audio=audio_dim(params),
            d_visual=embedding_dim(visual.backbone),
            image_size=visual.image_size,
        )
        return counts | {"paper": "the dual-stream paper gives no parameter counts"}
    from avsc.models.joint_summary import parameter_counts as joint_counts

    visual = params.features.visual.joint
    counts = joint_counts(
        params.model.joint,
        n_bins=params.features.audio.joint.n_bands,
        backbone=visual.backbone,
        image_size=visual.image_size,
    )
    return counts | {"paper": "the joint-optimization paper gives no parameter counts"}


def _flat_table(counts: dict, prefix: str = "") -> list[str]:
    lines = []
    for name, value in counts.items():
        if not isinstance(value, dict):
            continue
        if {"total", "trainable"} <= set(value) and isinstance(value["total"], int):
            trainable = value["trainable"]
            train = (
                ", ".join(f"{k} {v:,}" for k, v in trainable.items())
                if isinstance(trainable, dict)
                else f"{trainable:,}"
            )
            lines.append(f"{prefix + name:<28} {value['total']:>14,}   trainable {train}")
        else:
            lines += _flat_table(value, prefix=f"{prefix}{name}.")
    return lines


def cli_model_summary(args) -> int:
    """Entry point of ``avsc model-summary [--system NAME] [--profile NAME] [--json]``."""
    params = _load(args)
    system = getattr(args, "system", None) or params.model.system
    if system == "secrnn" and not getattr(args, "json", False):
        summary = parameter_summary(params)
        print(
            f"SE-CRNN parameters ({getattr(args, 'profile', None) or 'params.yaml'}, "
            f"VGG16 at {summary['image_size']}x{summary['image_size']})"
        )
        print(format_table(summary))
        return 0
    counts = system_summary(params, system)
    if getattr(args, "json", False):
        print(json.dumps(counts, indent=2))
        return 0
    print(f"{system} parameters ({getattr(args, 'profile', None) or 'params.yaml'})")
    print("\n".join(_flat_table(counts)))
    print(f"\npaper: {counts['paper']}")
    return 0
