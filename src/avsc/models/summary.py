"""``avsc model-summary``: total and trainable weights per SE-CRNN module, against the paper (sec. 2.6)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from avsc.config.settings import Params, load_params

log = logging.getLogger(__name__)

#: Sec. 2.6 of the paper (rounded there): audio 323k; visual 14M (105k trainable); full 15M (272k trainable).
PAPER = {
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

    from avsc.models.secrnn import (build_audio_module, build_fused_model_with_backbone,
                                    build_visual_module_with_backbone, count_params)

    size = params.features.visual.image_size
    n_bands = params.features.audio.n_bands
    n_frames = int(round(1.0 / params.features.audio.hop_s))
    steps = params.features.visual.fps
    m = params.model
    keras.backend.clear_session()
    audio = build_audio_module(m.audio, n_bands=n_bands, n_frames=n_frames)
    visual = build_visual_module_with_backbone(m.visual, image_size=size, steps=steps, quiet=True)
    fused = build_fused_model_with_backbone(m, image_size=size, n_bands=n_bands, n_frames=n_frames,
                                            steps=steps, quiet=True)
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
    head = f"{'module':<8} {'total':>12} {'trainable':>11} {'paper total':>12} {'paper train':>12} {'diff total':>11} {'diff train':>11}"
    lines = [head, "-" * len(head)]
    for module in ("audio", "visual", "fused"):
        c, ref, d = summary[module], _paper_ref(module), summary["diff"][module]
        lines.append(f"{module:<8} {c['total']:>12,} {c['trainable']:>11,} {ref['total']:>12,} {ref['trainable']:>12,} "
                     f"{d['total'] * 100:>+10.1f}% {d['trainable'] * 100:>+10.1f}%")
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


def cli_model_summary(args) -> int:
    """Entry point of ``avsc model-summary [--profile NAME] [--json]``."""
    params = _load(args)
    if getattr(args, "system", "secrnn") != params.model.system:
        log.info("--system %s (params: %s)", args.system, params.model.system)
    summary = parameter_summary(params)
    if getattr(args, "json", False):
        print(json.dumps({k: summary[k] for k in ("audio", "visual", "fused")}, indent=2))
    else:
        print(f"SE-CRNN parameters ({getattr(args, 'profile', None) or 'params.yaml'}, "
              f"VGG16 at {summary['image_size']}x{summary['image_size']})")
        print(format_table(summary))
    return 0
