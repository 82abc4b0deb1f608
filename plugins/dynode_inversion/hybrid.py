"""The ``hybrid`` inverter: an encoder's codes, refined by a short optimisation.

The encoder gives a start close to the frame, so a few steps at a small
learning rate suffice (defaults: 30 steps, lr 0.01, a light pull towards the
encoder's code so that refinement does not wander off the part of W+ the
encoder was trained on). Few steps because each one renders and back-propagates
the generator: see docs/performance.md ("Inversion") for measured step costs.
"""

from __future__ import annotations

import torch

from dynode_core import Inverter, no_progress

from .e4e import EncoderInverter
from .optim import OptimInverter


class HybridInverter(Inverter):
    """Encoder start, optimisation refine."""

    def __init__(self, encoder=None, steps: int = 30, lr: float = 0.01, space: str = "w+", *,
                 iterations: int = 1, ssim_weight: float = 0.1, pull_weight: float = 0.01,
                 latent_noise: float = 0.0, seed: int = 0, device=None):
        self.start = EncoderInverter(encoder, iterations=iterations, device=device)
        self.refine = OptimInverter(steps, lr, space, ssim_weight=ssim_weight,
                                    pull_weight=pull_weight, latent_noise=latent_noise, seed=seed)

    @property
    def config(self) -> dict:
        return {"name": "hybrid", "encoder": self.start.config, "optim": self.refine.config}

    def invert(self, frames: torch.Tensor, generator, *, progress=no_progress) -> torch.Tensor:
        start = self.start.invert(frames, generator, progress=progress)
        return self.refine.invert(frames, generator, progress=progress, start=start)
