"""StyleGAN2 training steps (Karras et al. 2020), for a generator and discriminator of this plugin.

Non-saturating logistic loss, lazy R1 on reals and lazy path-length regularisation, style
mixing and an EMA generator. ``cfg`` is a dict with ``batch``, ``style_dim``, ``mixing``,
``r1``, ``pl_weight``, ``adversarial`` (G's adversarial loss weight) and, for the EMA,
``ema_kimg`` and ``ema_rampup``. ``scripts/train_shapes_gan.py`` drives them.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

#: An extra generator loss: (z, images G rendered from z unmixed) -> (loss, logged stats).
ExtraLoss = Callable[[torch.Tensor, torch.Tensor], tuple]


def mixed_latents(g, n: int, cfg: dict, device) -> torch.Tensor:
    """W+ codes of n random z, style-mixed at one random crossover with probability ``mixing``."""
    z = torch.randn(2, n, cfg["style_dim"], device=device)
    w = g.broadcast(g.mapping(z[0]))
    if torch.rand(()) < cfg["mixing"]:
        cut = int(torch.randint(1, g.num_ws, ()))
        w = torch.cat([w[:, :cut], g.broadcast(g.mapping(z[1]))[:, cut:]], dim=1)
    return w


def d_step(g, d, d_opt, cfg: dict, real: torch.Tensor, regularise: bool) -> dict:
    """One discriminator step on ``real`` images and as many fakes (+ R1 when ``regularise``)."""
    with torch.no_grad():
        fake = g.synthesize(mixed_latents(g, real.shape[0], cfg, real.device), noise_mode="random")
    real_logit, fake_logit = d(real), d(fake)
    loss = F.softplus(-real_logit).mean() + F.softplus(fake_logit).mean()
    d_opt.zero_grad(set_to_none=True)
    loss.backward()
    d_opt.step()
    stats = {"d_loss": loss.item(), "real_score": real_logit.mean().item(),
             "fake_score": fake_logit.mean().item()}
    if regularise:
        real.requires_grad_(True)
        (grad,) = torch.autograd.grad(d(real).sum(), real, create_graph=True)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        d_opt.zero_grad(set_to_none=True)
        (cfg["r1"] / 2 * r1 * 16).backward()
        d_opt.step()
        stats["r1"] = r1.item()
    return stats


def g_step(g, d, g_opt, cfg: dict, device, regularise: bool, pl_mean: torch.Tensor,
           extra_loss: ExtraLoss | None = None) -> dict:
    """One generator step: ``adversarial`` x the non-saturating loss (D is not run at 0), plus
    ``extra_loss`` (then on unmixed codes, so each image has its z), plus the path-length
    penalty when ``regularise``."""
    if extra_loss is not None:
        z = torch.randn(cfg["batch"], cfg["style_dim"], device=device)
        fake = g.synthesize(g.broadcast(g.mapping(z)), noise_mode="random")
    else:
        fake = g.synthesize(mixed_latents(g, cfg["batch"], cfg, device), noise_mode="random")
    stats, loss = {}, fake.new_zeros(())
    if cfg["adversarial"] > 0:
        adversarial = F.softplus(-d(fake)).mean()
        stats["g_loss"], loss = adversarial.item(), cfg["adversarial"] * adversarial
    if extra_loss is not None:
        extra, extra_stats = extra_loss(z, fake)
        loss = loss + extra
        stats.update(extra_stats)
    g_opt.zero_grad(set_to_none=True)
    loss.backward()
    g_opt.step()
    if regularise:
        w = mixed_latents(g, max(cfg["batch"] // 2, 1), cfg, device).detach().requires_grad_(True)
        img = g.synthesize(w, noise_mode="random")
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * noise).sum(), w, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        pl_mean.copy_(pl_mean.lerp(lengths.mean().detach(), 0.01))
        penalty = (lengths - pl_mean).square().mean()
        g_opt.zero_grad(set_to_none=True)
        (cfg["pl_weight"] * 4 * penalty).backward()
        g_opt.step()
        stats["path_length"] = lengths.mean().item()
    return stats


@torch.no_grad()
def update_ema(g_ema, g, images_seen: int, cfg: dict) -> None:
    """G_ema <- G with a half-life of ``ema_kimg`` (at most ``ema_rampup`` x images seen)."""
    half_life = cfg["ema_kimg"] * 1000
    if cfg["ema_rampup"] > 0:
        half_life = min(half_life, images_seen * cfg["ema_rampup"])
    beta = 0.5 ** (cfg["batch"] / max(half_life, 1e-8))
    for p_ema, p in zip(g_ema.parameters(), g.parameters()):
        p_ema.lerp_(p, 1 - beta)
