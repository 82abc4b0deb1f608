"""Pillow images to RGB uint8 arrays, with one documented conversion policy.

- RGB: kept as stored.
- Grayscale (``1``, ``L``) and palette (``P``) images: expanded to RGB.
- 16- and 32-bit grayscale (``I;16*``, ``I``): scaled from the 16-bit range
  (value / 257, rounded; values above 65535 clip), never clipped at 255 the
  way Pillow's own ``convert("L")`` does.
- Float grayscale (``F``): read as [0, 1].
- Alpha (``RGBA``, ``LA``, ``PA``, palette transparency): composited over black,
  so fully transparent pixels are black whatever colour they store.
- Anything else (``CMYK``, ``YCbCr``, ``LAB``, ``HSV``): Pillow's conversion to RGB.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=-1)


def to_rgb(image: Image.Image) -> np.ndarray:
    """An (H, W, 3) uint8 RGB array from any Pillow image (see the module policy)."""
    mode = image.mode
    if mode.startswith("I"):
        values = np.asarray(image).astype(np.float64)
        return _gray_to_rgb(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8))
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)
        return _gray_to_rgb(np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8))
    has_alpha = "A" in mode or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint16)
        rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255
        return rgb.astype(np.uint8)
    if mode != "RGB":
        image = image.convert("RGB")
    return np.array(image, dtype=np.uint8)
