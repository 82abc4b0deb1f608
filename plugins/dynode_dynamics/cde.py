"""``cde``: a neural CDE (torchcde) driven by the observed path.

The control X(s) is the observed reduced latents plus a time channel,
interpolated with ``hermite_cubic_coefficients_with_backward_differences``.
The hidden state (the K reduced coordinates plus ``extra`` channels) follows
dh = F(h) dX and a linear readout gives the latents. F starts as "copy the
control's motion" (the identity on the latent channels) plus a learned
correction, so an untrained model reproduces the interpolated path, and an
edited start driven by the same control path keeps the original motion: that
is :meth:`NeuralCDEDynamics.propagate`, which uses the stored control path.

Training drops a random share (``drop``) of the interior keyframes from the
control and asks for all of them, so the correction learns how the path
bends between sparser keyframes. Past the last keyframe the control holds
still except for its time channel. Times before the first keyframe cannot be
predicted.
"""

from __future__ import annotations

import torch
import torchcde
from torch import nn

from .base import ReducedDynamics
from .fields import mlp
from .flow import FIXED_STEP
from .training import optimise, solver_errors

ADVICE = "lower lr or drop"


class ExtendedControl(nn.Module):
    """A torchcde spline inside [t0, t1]; outside, only the time channel (0) moves."""

    def __init__(self, knots: torch.Tensor, values: torch.Tensor) -> None:
        super().__init__()
        path = torch.cat([knots[:, None], values], dim=1)
        coeffs = torchcde.hermite_cubic_coefficients_with_backward_differences(path, t=knots)
        self.spline = torchcde.CubicSpline(coeffs, t=knots)
        self.t0, self.t1 = float(knots[0]), float(knots[-1])
        still = torch.zeros(path.shape[1], dtype=path.dtype, device=path.device)
        still[0] = 1.0
        self.register_buffer("still", still)

    @property
    def interval(self):
        return self.spline.interval

    @property
    def grid_points(self):
        return self.spline.grid_points

    def derivative(self, t):
        if self.t0 <= float(t.detach()) <= self.t1:
            return self.spline.derivative(t)
        return self.still


class _CDE(nn.Module):
    """Vector field F(h) = copy + mlp(h), start and readout."""

    def __init__(self, dim: int, extra: int, width: int, depth: int) -> None:
        super().__init__()
        hidden = dim + extra
        self.dim, self.hidden = dim, hidden
        copy = torch.zeros(hidden, dim + 1)
        copy[:dim, 1:] = torch.eye(dim)
        self.register_buffer("copy", copy)
        self.field = mlp(hidden, hidden * (dim + 1), width, depth, zero_last=True)
        self.start = mlp(dim, hidden, width, 1, zero_last=True)
        self.readout = nn.Linear(hidden, dim)
        with torch.no_grad():
            self.readout.weight.copy_(torch.eye(dim, hidden))
            self.readout.bias.zero_()

    def forward(self, t, h):  # torchcde: (..., hidden) -> (..., hidden, channels)
        learned = self.field(h).reshape(*h.shape[:-1], self.hidden, self.dim + 1)
        return self.copy + learned

    def initial(self, y0: torch.Tensor) -> torch.Tensor:
        pad = y0.new_zeros(*y0.shape[:-1], self.hidden - self.dim)
        return torch.cat([y0, pad], dim=-1) + self.start(y0)


class NeuralCDEDynamics(ReducedDynamics):
    """Neural CDE on reduced latents; see the module docstring."""

    component = "cde"
    controlled = True
    before_start = False
    defaults = {
        "extra": 8, "width": 64, "depth": 1, "iterations": 150, "lr": 1e-3, "drop": 0.3,
        "method": "dopri5", "rtol": 1e-3, "atol": 1e-4, "patience": 3, "time_budget": None,
    }

    def _build(self, space) -> nn.Module:
        c = self.config
        return _CDE(space.components, int(c["extra"]), int(c["width"]), int(c["depth"]))

    def _solve(self, control, y0, s) -> torch.Tensor:
        """Readout (M, K) at sorted times ``s`` >= 0 from the start ``y0`` (K,)."""
        c = self.config
        has_zero = bool(s[0] == 0)
        ts = s if has_zero else torch.cat([s.new_zeros(1), s])
        options = {"jump_t": control.grid_points} if c["method"] not in FIXED_STEP else None
        h = torchcde.cdeint(X=control, func=self.net, z0=self.net.initial(y0), t=ts,
                            adjoint=False, method=c["method"], rtol=c["rtol"], atol=c["atol"],
                            options=options)
        out = self.net.readout(h)
        return out if has_zero else out[1:]

    def _fit(self, s, y, progress) -> None:
        c = self.config
        keep_p = 1.0 - float(c["drop"])

        def loss_fn(_step):
            keep = torch.rand(len(s), device=s.device) < keep_p
            keep[0] = keep[-1] = True
            pred = self._solve(ExtendedControl(s[keep], y[keep]), y[0], s)
            loss = (pred - y).pow(2).mean()
            return loss, float(loss.detach())

        if float(c["drop"]) <= 0 or len(s) < 3:  # nothing to learn: the start is exact
            progress(0, total=1, description="fit cde")
            progress(1)
            self.fit_stats = {"steps": 0, "stopped": "no dropped keyframes"}
            return
        self.fit_stats = optimise(self.net.parameters(), loss_fn, component="cde",
                                  iterations=int(c["iterations"]), lr=c["lr"],
                                  patience=int(c["patience"]), time_budget=c["time_budget"],
                                  progress=progress, advice=ADVICE)

    def _control(self) -> ExtendedControl:
        return ExtendedControl(self.space.observed_unit_times, self.space.coords)

    def _predict(self, s) -> torch.Tensor:
        return self._propagate(self.space.coords[0], s)

    def _propagate(self, y0, s) -> torch.Tensor:
        with solver_errors("cde", ADVICE):
            return self._solve(self._control(), y0, s)
