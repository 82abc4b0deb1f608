"""The ``hybrid`` inverter: an encoder's codes, refined by a short optimisation.

The encoder gives a start close to the frame, so a few steps at a small
learning rate suffice (defaults: 30 steps, lr 0.01, a light pull towards the
encoder's code so that refinement does not wander off the part of W+ the
encoder was trained on). Few steps because each one renders and back-propagates
the generator: see docs/performance.md ("Inversion") for measured step costs.
"""

from __future__ import annotations

import torch

from dynode_core import Inverter, check_number, no_progress

from .e4e import EncoderInverter
from .optim import OptimInverter


def batch_psnr(images: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR (dB) of renders against frames, both in [-1, 1]."""
    mse = (images.float() - frames.to(images.device).float()).pow(2).mean((1, 2, 3))
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


class HybridInverter(Inverter):
    """Encoder start, optimisation refine.

    ``domain_psnr`` (dB, None: off): a batch whose encoder codes render below it is out
    of the encoder's domain (the encoder was trained on other pictures), and a light
    refine cannot fix that: such a batch is inverted as the ``optim`` inverter would
    (``far_steps`` steps at ``far_lr`` from the mean code; the encoder's codes are left
    out: tuned from pivots refined from them, carphone reached 27.4 dB, from the mean's
    28.5 dB, in the same 3,000 steps). :attr:`choices` records, per batch inverted, the encoder's
    mean PSNR and which refine ran (``"hybrid"`` or ``"optim"``); :meth:`decisions`
    returns them."""

    def __init__(self, encoder=None, steps: int = 30, lr: float = 0.01, space: str = "w+", *,
                 iterations: int = 1, ssim_weight: float = 0.1, pull_weight: float = 0.01,
                 latent_noise: float = 0.0, seed: int = 0, device=None,
                 domain_psnr: float | None = None, far_steps: int = 100, far_lr: float = 0.05):
        self.start = EncoderInverter(encoder, iterations=iterations, device=device)
        self.refine = OptimInverter(steps, lr, space, ssim_weight=ssim_weight,
                                    pull_weight=pull_weight, latent_noise=latent_noise, seed=seed)
        self.far = OptimInverter(far_steps, far_lr, space, ssim_weight=ssim_weight,
                                 pull_weight=0.0, latent_noise=latent_noise, seed=seed)
        self.domain_psnr = None if domain_psnr is None else check_number(
            "inverter option domain_psnr", domain_psnr, above=0, maximum=200)
        self.choices: list[dict] = []

    @property
    def config(self) -> dict:
        config = {"name": "hybrid", "encoder": self.start.config, "optim": self.refine.config}
        if self.domain_psnr is not None:
            config.update(domain_psnr=self.domain_psnr, far=self.far.config)
        return config

    def decisions(self) -> list[dict]:
        return list(self.choices)

    def invert(self, frames: torch.Tensor, generator, *, progress=no_progress) -> torch.Tensor:
        start = self.start.invert(frames, generator, progress=progress)
        refine = self.refine
        if self.domain_psnr is not None:
            with torch.no_grad():
                psnr = float(batch_psnr(generator.synthesize(start, noise_mode="const"),
                                        frames).mean())
            far = psnr < self.domain_psnr
            self.choices.append({"frames": len(frames), "encoder_psnr": round(psnr, 3),
                                 "refine": "optim" if far else "hybrid"})
            if far:
                return self.far.invert(frames, generator, progress=progress)
        return refine.invert(frames, generator, progress=progress, start=start)
