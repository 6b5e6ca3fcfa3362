"""Image augmentation of the joint-optimization system (Chen et al. 2022, sec. 3.2), as built-in Keras layers.

The paper uses torchvision's RandomResizedCrop, RandomHorizontalFlip and ColorJitter without giving
their parameters. Keras 3 has no RandomResizedCrop, and its colour layers parameterise differently, so
the closest built-in equivalents are used (all are random only when the model is called with
``training=True``, e.g. in ``fit``; in ``predict``/``evaluate`` they are the identity):

* **random resized crop** ~ ``RandomTranslation`` by up to ``translate`` of each side (reflect fill)
  followed by ``RandomZoom`` zooming *in* by up to ``zoom`` independently per axis: the visible window
  is 70-100 % of each side by default (49-100 % of the area, aspect ratio 0.7-1.43), off-centre by up
  to 10 %, resized back to the input size (torchvision's default draws 8-100 % of the area; that is
  too aggressive for scene images whose whole layout matters, so the milder range is a choice);
* **horizontal flip** with probability 0.5 (``RandomFlip("horizontal")``);
* **colour jitter** (``RandomColorJitter`` on 0-1 values): brightness ``+- brightness`` of the range
  *added* (torchvision multiplies), contrast factor in ``[1 - contrast, 1 + contrast]`` around each
  channel's mean, saturation multiplied by a factor in ``[1 - saturation, 1 + saturation]``, hue
  shifted by up to ``+- hue`` of the colour circle (torchvision-like ``ColorJitter(0.2, 0.4, 0.4, 0.1)``).

Input and output are RGB images with 0-255 values (``Rescaling`` to 0-1 around the colour layers,
whose saturation step is only correct on 0-1 values).
"""

from __future__ import annotations

import keras
from keras import layers

from avsc.config.models import ImageAugmentation


def _saturation_factor(saturation: float) -> tuple[float, float]:
    """Keras' RandomSaturation draws ``f`` and multiplies by ``f / (1 - f)``: map ``1 +- s`` to ``f``."""
    lo, hi = 1.0 - saturation, 1.0 + saturation
    return lo / (1.0 + lo), hi / (1.0 + hi)


def build_image_augmentation(cfg: ImageAugmentation, *, name: str = "image_augmentation") -> keras.Sequential:
    """Random resized crop ~, horizontal flip, colour jitter: RGB 0-255 in, RGB 0-255 out (training only)."""
    seed = cfg.seed
    steps: list[layers.Layer] = []
    if cfg.translate > 0:
        steps.append(
            layers.RandomTranslation(cfg.translate, cfg.translate, fill_mode="reflect", seed=seed, name=f"{name}_shift")
        )
    if cfg.zoom > 0:
        steps.append(layers.RandomZoom((-cfg.zoom, 0.0), (-cfg.zoom, 0.0), seed=seed, name=f"{name}_zoom"))
    if cfg.flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed, name=f"{name}_flip"))
    jitter = {
        "brightness_factor": (-cfg.brightness, cfg.brightness) if cfg.brightness > 0 else None,
        "contrast_factor": cfg.contrast if cfg.contrast > 0 else None,
        "saturation_factor": _saturation_factor(cfg.saturation) if cfg.saturation > 0 else None,
        "hue_factor": (0.0, 2.0 * cfg.hue) if cfg.hue > 0 else None,  # Keras shifts by +-factor / 2
    }
    if any(v is not None for v in jitter.values()):
        steps.append(layers.Rescaling(1.0 / 255.0, name=f"{name}_to_unit"))
        steps.append(layers.RandomColorJitter(value_range=(0.0, 1.0), seed=seed, name=f"{name}_color", **jitter))
        steps.append(layers.Rescaling(255.0, name=f"{name}_to_255"))
    return keras.Sequential(steps, name=name)


__all__ = ["ImageAugmentation", "build_image_augmentation"]
