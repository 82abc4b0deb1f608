"""Inversion by optimisation: Adam on W or W+ codes against a reconstruction loss.

Loss per frame: pixel MSE (images in [-1, 1]) + ``ssim_weight`` * (1 - SSIM)
(torchmetrics, Gaussian window, shrunk for small images) + ``pull_weight`` *
mean squared distance to the start code. Frames of a batch are optimised
together but independently (their losses are summed, and Adam works per
number); the code with the lowest loss seen for each frame is returned.
The generator renders with ``noise_mode="const"``. Optional latent noise
(``latent_noise``, decaying to zero at 75 % of the steps) is drawn from a
seeded generator, so a run is reproducible.
"""

from __future__ import annotations

import math

import torch

from dynode_core import InputError, Inverter, check_number, no_progress

from .util import generator_device

SPACES = ("w", "w+")


def ssim_loss(images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - SSIM per image (N,), window 11 px (or the largest odd size up to half the image)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    half = min(images.shape[-2:]) // 2
    kernel = max(3, min(11, half - (1 - half % 2)))
    ssim = structural_similarity_index_measure(images, target, data_range=2.0, kernel_size=kernel,
                                               sigma=1.5 * kernel / 11, reduction="none")
    return 1.0 - ssim


def lr_at(step: int, steps: int, lr: float, rampdown: float = 0.25) -> float:
    """Learning rate at ``step``: constant, then a cosine decay to 0 over the last 25 %."""
    remaining = 1.0 - step / max(1, steps)
    return lr * 0.5 * (1.0 - math.cos(math.pi * min(1.0, remaining / rampdown)))


class OptimInverter(Inverter):
    """Adam in W or W+ from the mean latent (or a given start code), batched over frames."""

    def __init__(self, steps: int = 100, lr: float = 0.05, space: str = "w+", *,
                 ssim_weight: float = 0.1, pull_weight: float = 0.0, latent_noise: float = 0.0,
                 seed: int = 0):
        if space not in SPACES:
            raise InputError(f"unknown space {space!r}; valid: {', '.join(SPACES)}")
        self.steps = check_number("inverter option steps", steps, kind=int, minimum=0,
                                  maximum=1_000_000)
        self.lr = check_number("inverter option lr", lr, above=0, maximum=10)
        self.space = space
        self.ssim_weight = check_number("inverter option ssim_weight", ssim_weight, minimum=0)
        self.pull_weight = check_number("inverter option pull_weight", pull_weight, minimum=0)
        self.latent_noise = check_number("inverter option latent_noise", latent_noise,
                                         minimum=0)
        self.seed = check_number("inverter option seed", seed, kind=int, minimum=0,
                                 maximum=2**32 - 1)

    @property
    def config(self) -> dict:
        return {"name": "optim", "steps": self.steps, "lr": self.lr, "space": self.space,
                "ssim_weight": self.ssim_weight, "pull_weight": self.pull_weight,
                "latent_noise": self.latent_noise, "seed": self.seed}

    def losses(self, images: torch.Tensor, target: torch.Tensor, codes: torch.Tensor,
               start: torch.Tensor) -> torch.Tensor:
        """The loss of every frame (N,)."""
        loss = (images - target).square().flatten(1).mean(1)
        if self.ssim_weight:
            loss = loss + self.ssim_weight * ssim_loss(images, target)
        if self.pull_weight:
            loss = loss + self.pull_weight * (codes - start).square().flatten(1).mean(1)
        return loss

    def invert(self, frames: torch.Tensor, generator, *, progress=no_progress,
               start: torch.Tensor | None = None) -> torch.Tensor:
        """W+ codes (N, num_ws, D) for frames (N, 3, H, W) in [-1, 1].

        ``start``: W+ (N, num_ws, D) or W (N, D) codes to begin from (default: the
        mean latent). In ``w`` space the start is averaged over layers.
        """
        device = generator_device(generator)
        target = frames.to(device, torch.float32)
        n, num_ws = target.shape[0], generator.num_ws
        if start is None:
            start = generator.mean_latent().to(device).expand(n, num_ws, -1)
        start = start.detach().to(device, torch.float32)
        start = start[:, None].expand(-1, num_ws, -1) if start.dim() == 2 else start
        init = start.mean(1, keepdim=True) if self.space == "w" else start
        codes = init.clone().requires_grad_(True)
        best, best_loss = start.clone(), torch.full((n,), float("inf"), device=device)
        opt = torch.optim.Adam([codes], lr=self.lr)
        rng = torch.Generator(device=device).manual_seed(self.seed)
        progress(0, total=self.steps, description="optimising")
        for step in range(self.steps + 1):
            wplus = codes.expand(-1, num_ws, -1)
            strength = self._noise_strength(step)
            noisy = wplus + strength * torch.randn(wplus.shape, generator=rng, device=device) \
                if strength else wplus
            images = generator.synthesize(noisy, noise_mode="const")
            loss = self.losses(images, target, wplus, start)
            if not strength:  # the loss of the code itself: keep each frame's best
                with torch.no_grad():
                    better = loss < best_loss
                    best[better], best_loss[better] = wplus[better].detach(), loss[better].detach()
            if step == self.steps:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(step, self.steps, self.lr)
            (grad,) = torch.autograd.grad(loss.sum(), [codes])
            codes.grad = grad
            opt.step()
            progress(1)
        return best

    def _noise_strength(self, step: int) -> float:
        return self.latent_noise * max(0.0, 1.0 - step / (0.75 * max(1, self.steps))) ** 2
