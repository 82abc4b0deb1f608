"""The input transform of a StyleGAN3 generator, from a translation and a rotation.

``synthesize(w, transform=M)`` takes ``M`` with the meaning of NVIDIA's
``synthesis.input.transform`` buffer: the inverse of the transform of the resulting image.
The image transform turning by ``angle`` degrees and moving by ``translate`` (in image
units: the image spans -0.5 ... 0.5) is ``[[cos a, sin a, tx], [-sin a, cos a, ty], [0, 0, 1]]``,
as NVIDIA's ``gen_images.py`` builds it; :func:`input_transform` returns its inverse, ready
for ``synthesize`` or for a ``dynode render --transform`` file (stack one per frame).
"""

from __future__ import annotations

import math

import torch


def image_transform(translate=(0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """The (3, 3) float64 image transform: turn by ``angle`` degrees, move by ``translate``."""
    a = math.radians(angle)
    tx, ty = (float(v) for v in translate)
    return torch.tensor([[math.cos(a), math.sin(a), tx], [-math.sin(a), math.cos(a), ty],
                         [0.0, 0.0, 1.0]], dtype=torch.float64)


def input_transform(translate=(0.0, 0.0), angle: float = 0.0) -> torch.Tensor:
    """The (3, 3) float32 value for ``synthesize(..., transform=)``: the inverse of
    :func:`image_transform`."""
    return torch.linalg.inv(image_transform(translate, angle)).float()
