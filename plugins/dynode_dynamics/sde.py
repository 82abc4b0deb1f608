"""``sde``: a latent SDE (torchsde): the ``ode`` dynamics driven by calibrated noise.

On the reduced space the state is position and velocity; the drift is the
second-order field the ``ode`` fit learns (same options, same fit, same
keyframe velocities) and random forces act on the velocity:

    dy = v ds,    dv = a(y, v) ds + diag(sigma) dW

Inside the observed range every sample is solved per keyframe interval from
its keyframe and pinned to the next one with the ``correction`` rule of
:mod:`dynode_dynamics.endpoint` (a bridge between the keyframes); past the
last keyframe samples run free, so their spread grows with the distance.

``sigma`` is calibrated, not guessed: the fit's validation folds (fields fitted
on every other keyframe) predict the keyframes left out; per reduced
coordinate, sigma^2 is the mean ratio of the squared held-out error to the
variance of unit-noise bridges at the same times (matching second moments).
The bridges' variance scales with the cube of the keyframe spacing, so the
same sigma serves the full keyframes (measured coverage: docs/dynamics.md).

:meth:`sample` draws paths (Euler-Maruyama, ``dt`` times the keyframe
interval, a seeded ``BrownianInterval``). ``predict`` and ``propagate`` are
the noise-free paths, i.e. exactly ``ode``'s with the same options and seed
(the mean dynamics, not a Monte Carlo average, whose noise would add to the
error). Times before the first keyframe cannot be predicted.
"""

from __future__ import annotations

import torch
import torchsde
from torch import nn

from dynode_core import InputError

from .base import cpu_threads
from .endpoint import interval_positions, smoothstep
from .flow import shared_positions
from .motion import SecondOrderModel
from .ode import NeuralODEDynamics

ADVICE = "lower lr or dt, or raise kinetic"


class _Forced(nn.Module):
    """torchsde's view of the model: drift ``field`` times ``duration`` (per sample:
    time is each span's own tau in [0, 1]), noise ``sigma`` on the last K numbers."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, field, sigma: torch.Tensor, duration: torch.Tensor, state: int) -> None:
        super().__init__()
        self.field, self.duration = field, duration[:, None]
        noise = torch.zeros(state, dtype=sigma.dtype, device=sigma.device)
        noise[state - len(sigma):] = sigma
        self.noise = noise * duration.abs().sqrt()[:, None]

    def f(self, t, x):
        return self.duration * self.field(x)

    def g(self, t, x):
        return self.noise.expand_as(x)


class NoisyModel(SecondOrderModel):
    """The fitted field, keyframe velocities and calibrated random force ``sigma`` (K,)."""

    def __init__(self, field, frames: int) -> None:
        super().__init__(field, frames)
        self.register_buffer("sigma", torch.zeros(field.dim))


class LatentSDEDynamics(NeuralODEDynamics):
    """Latent SDE on reduced latents; see the module docstring."""

    component = "sde"
    stochastic = True
    before_start = False
    validates = True
    model_class = NoisyModel
    keyframe_corrected = True
    passes_keyframes = True
    defaults = {**NeuralODEDynamics.defaults, "order": 2, "dt": 0.25,
                "calibration_samples": 64}

    def _check_options(self) -> None:
        super()._check_options()
        if self.config["endpoint"] != "correction":
            raise InputError("sde: endpoint must be 'correction' (samples are pinned to the "
                             "keyframes that way)")
        if int(self.config["order"]) != 2:
            raise InputError("sde: order must be 2 (the noise acts on the velocity)")

    # ------------------------------------------------------------ sampling
    def _solve(self, field, sigma, x0, duration, grid, entropy):
        """Euler-Maruyama from states x0 (B, S) over spans ``duration`` (B,) at
        normalised times ``grid`` (P,): (P, B, S)."""
        sde = _Forced(field, sigma, duration, x0.shape[1])
        bm = torchsde.BrownianInterval(t0=0.0, t1=float(grid[-1]), size=x0.shape,
                                       dtype=x0.dtype, device=x0.device, entropy=int(entropy))
        return torchsde.sdeint(sde, x0, grid, bm=bm, dt=float(self.config["dt"]),
                               method="euler")

    def _bridges(self, field, sigma, knots, starts, coords, s, n, entropy):
        """``n`` samples (n, len(s), K) at sorted times inside the keyframes, each
        solved from its interval's keyframe and pinned to the next one."""
        idx, tau = interval_positions(knots, s)
        iv, local = torch.unique(idx, return_inverse=True)
        grid, pos = shared_positions(torch.cat([tau, tau.new_ones(1)]))
        k = coords.shape[1]
        x0 = starts[iv].repeat(n, 1)
        duration = (knots[iv + 1] - knots[iv]).repeat(n)
        paths = self._solve(field, sigma, x0, duration, grid, entropy)[..., :k]
        paths = paths.reshape(len(grid), n, len(iv), k)
        miss = coords[iv + 1] - paths[-1]  # (n, I, K)
        out = paths[pos[:-1], :, local]  # (Q, n, K)
        w = smoothstep(tau)[:, None, None]
        return (out + w * miss[:, local].transpose(0, 1)).transpose(0, 1)

    def _free(self, x0, s, n, entropy):
        """``n`` free samples from the state x0 (S,) at sorted times s >= 0 after it."""
        knots = self.space.observed_unit_times
        step = float((knots[1:] - knots[:-1]).median())
        grid, pos = shared_positions(s / step)
        duration = x0.new_full((n,), step)
        paths = self._solve(self.net, self.net.sigma, x0.expand(n, -1), duration, grid, entropy)
        return paths[pos, :, :self.space.components].transpose(0, 1)

    def _samples(self, s, n: int, entropy: int) -> torch.Tensor:
        """``n`` paths (n, len(s), K) from the keyframes at sorted unit times s >= 0."""
        knots, coords = self.space.observed_unit_times, self.space.coords
        starts = self._keyframe_starts()
        out = coords.new_empty(n, len(s), coords.shape[1])
        after = s > knots[-1]
        if (~after).any():
            out[:, ~after] = self._bridges(self.net, self.net.sigma, knots, starts, coords,
                                           s[~after], n, entropy)
        if after.any():
            out[:, after] = self._free(starts[-1], s[after] - knots[-1], n, entropy)
        return out

    @torch.no_grad()
    def sample(self, times, n: int, *, seed: int | None = None) -> torch.Tensor:
        """``n`` plausible paths through the keyframes: codes (n, N, L, D).

        ``seed`` fixes the Brownian paths (default: the model's seed + 1, so the
        samples differ from the noise behind ``predict``).
        """
        s, inverse = self._unit_query(times)
        entropy = int(self.config["seed"]) + 1 if seed is None else int(seed)
        with cpu_threads(self.config["threads"]):
            paths = self._samples(s, int(n), entropy)
            extra = self.space.keyframe_residual(s)
        return self.space.decode(paths, extra)[:, inverse]

    # --------------------------------------------------------- calibration
    def _after_fit(self, held_out, s, y) -> None:
        """sigma per coordinate from the folds' held-out errors (module docstring)."""
        if not held_out:  # fewer than 4 keyframes: a tenth of the RMS speed
            self.net.sigma.fill_(0.1 * float(((y[1:] - y[:-1]) / (s[1:] - s[:-1])[:, None])
                                             .pow(2).mean().sqrt()))
            self.fit_stats["sigma"] = "fixed: too few keyframes to calibrate"
            return
        ratios = []
        unit = torch.ones(y.shape[1], dtype=y.dtype, device=y.device)
        for field, velocity, train, held in held_out:
            knots, starts = s[train], self._starts(y[train], velocity)
            error = self._interpolate(self._flow(field, knots=knots), knots, starts, y[train],
                                      s[held]) - y[held]
            paths = self._bridges(field, unit, knots, starts, y[train], s[held],
                                  int(self.config["calibration_samples"]), self.config["seed"] + 2)
            ratios.append(error.pow(2) / paths.var(0).clamp_min(1e-12))
        sigma = torch.cat(ratios).mean(0).sqrt()
        self.net.sigma.copy_(sigma)
        self.fit_stats["sigma"] = round(float(sigma.pow(2).mean().sqrt()), 6)
