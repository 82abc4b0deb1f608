"""``sde``: a latent SDE (torchsde) on the reduced, standardised space.

Prior dy = h(y) ds + g(y) dW (autonomous drift, diagonal diffusion);
posterior drift f(s, y) = h(y) + u(s, y) with a time-dependent control u that
is active inside the observed range only. Fitted with torchsde's ``logqp``
objective: Gaussian observation error (``obs_noise`` times the RMS keyframe
step) plus ``kl_weight`` times the KL divergence of posterior from prior.

A latent SDE fitted to one trajectory tends to collapse towards an ODE; its
use is :meth:`LatentSDEDynamics.sample`, plausible variations of the path.
``predict`` is the mean of ``predict_samples`` posterior paths driven by a
Brownian path fixed by the seed (a seeded ``BrownianInterval``), and
``propagate`` drives an edited start with that same noise, so the edited and
original paths differ only by the edit. Past the last keyframe the drift is
the prior's. Times before the first keyframe cannot be predicted.
"""

from __future__ import annotations

import math

import torch
import torchsde
from torch import nn

from .base import ReducedDynamics, cpu_threads
from .fields import mlp
from .training import optimise

ADVICE = "lower lr or dt, or raise obs_noise"


class _LatentSDE(nn.Module):
    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, dim: int, width: int, depth: int) -> None:
        super().__init__()
        self.prior = mlp(dim, dim, width, depth)
        self.control = mlp(dim + 3, dim, width, depth, zero_last=True)
        self.diffusion = mlp(dim, dim, width, 1)
        self.register_buffer("speed", torch.ones(()))
        self.register_buffer("noise", torch.ones(()))

    def h(self, t, y):  # prior drift
        return self.speed * self.prior(y)

    def f(self, t, y):  # posterior drift
        drift = self.h(t, y)
        if 0 <= float(t.detach()) <= 1:
            phase = torch.stack([t, torch.sin(math.pi * t), torch.cos(math.pi * t)]).to(y)
            feats = torch.cat([y, phase.expand(y.shape[0], 3)], dim=1)
            drift = drift + self.speed * self.control(feats)
        return drift

    def g(self, t, y):  # diagonal diffusion
        return self.noise * torch.sigmoid(self.diffusion(y))


class LatentSDEDynamics(ReducedDynamics):
    """Latent SDE on reduced latents; see the module docstring."""

    component = "sde"
    stochastic = True
    before_start = False
    defaults = {
        "width": 64, "depth": 2, "iterations": 200, "lr": 1e-2, "samples": 4,
        "obs_noise": 0.2, "kl_weight": 1.0, "noise": 1.0, "dt": 1.0,
        "predict_samples": 16, "patience": 3, "time_budget": None,
    }

    def _build(self, space) -> nn.Module:
        return _LatentSDE(space.components, int(self.config["width"]), int(self.config["depth"]))

    def _step(self) -> float:
        """The Euler-Maruyama step: ``dt`` times the median keyframe interval."""
        s = self.space.observed_unit_times
        return float(self.config["dt"]) * float((s[1:] - s[:-1]).median())

    def _paths(self, y0: torch.Tensor, s: torch.Tensor, entropy: int, logqp: bool = False):
        """Posterior paths from ``y0`` (n, K) at sorted times ``s`` >= 0: (M, n, K)."""
        zero = s.new_zeros(1)
        has_zero = bool(s[0] == 0)
        ts = s if has_zero else torch.cat([zero, s])
        end = max(float(ts[-1]), 1e-6)
        size = (y0.shape[0], y0.shape[1] + int(logqp))  # logqp adds a noiseless channel
        bm = torchsde.BrownianInterval(t0=0.0, t1=end, size=size, dtype=y0.dtype,
                                       device=y0.device, entropy=int(entropy))
        out = torchsde.sdeint(self.net, y0, ts, bm=bm, dt=self._step(), method="euler",
                              logqp=logqp)
        if logqp:
            ys, log_ratio = out
            return (ys if has_zero else ys[1:]), log_ratio
        return out if has_zero else out[1:]

    def _fit(self, s, y, progress) -> None:
        c = self.config
        steps = (y[1:] - y[:-1])
        velocity = steps / (s[1:] - s[:-1])[:, None]
        self.net.speed.fill_(float(velocity.pow(2).mean().sqrt().clamp_min(1e-6)))
        interval = float((s[1:] - s[:-1]).median())
        self.net.noise.fill_(float(c["noise"]) * float(self.net.speed) * math.sqrt(interval))
        sigma2 = float(c["obs_noise"]) ** 2 * float(steps.pow(2).sum(1).mean() / y.shape[1])
        y0 = y[:1].expand(int(c["samples"]), -1)
        norm = y.numel()

        def loss_fn(_step):
            entropy = int(torch.randint(0, 2 ** 31 - 1, ()))
            ys, log_ratio = self._paths(y0, s, entropy, logqp=True)
            data = (ys - y[:, None]).pow(2)
            nll = data.sum((0, 2)) / (2 * sigma2)
            kl = log_ratio.sum(0)
            loss = (nll + c["kl_weight"] * kl).mean() / norm
            return loss, float(data.mean().detach())

        self.fit_stats = optimise(self.net.parameters(), loss_fn, component="sde",
                                  iterations=int(c["iterations"]), lr=c["lr"],
                                  patience=int(c["patience"]), time_budget=c["time_budget"],
                                  progress=progress, advice=ADVICE)

    def _mean_path(self, y0, s) -> torch.Tensor:
        n = int(self.config["predict_samples"])
        return self._paths(y0.expand(n, -1), s, int(self.config["seed"])).mean(1)

    def _predict(self, s) -> torch.Tensor:
        return self._mean_path(self.space.coords[:1], s)

    def _propagate(self, y0, s) -> torch.Tensor:
        return self._mean_path(y0[None], s)

    @torch.no_grad()
    def sample(self, times, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` plausible paths from the first keyframe: codes (n, N, L, D).

        ``seed`` fixes the Brownian paths (default: the model's seed + 1, so the
        samples differ from the noise behind ``predict``).
        """
        s, inverse = self._unit_query(times)
        entropy = int(self.config["seed"]) + 1 if seed is None else int(seed)
        with cpu_threads(self.config["threads"]):
            paths = self._paths(self.space.coords[:1].expand(int(n), -1), s, entropy)
        return self.space.decode(paths.transpose(0, 1))[:, inverse]
