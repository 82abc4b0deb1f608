"""Integrating an autonomous vector field with torchdiffeq's ``odeint``.

Plain backprop through the solver (never the adjoint: far slower here).
:meth:`Flow.ivp` solves one initial value problem forwards and backwards in
time; :meth:`Flow.spans` solves many short spans at once, each in its own
normalised time tau in [0, 1] (dy/dtau = duration * f(y)), so windows and
keyframe intervals of different lengths share one batched solve.
"""

from __future__ import annotations

import torch
from torchdiffeq import odeint

#: Fixed-step methods take a step size; adaptive ones take tolerances.
FIXED_STEP = {"euler", "midpoint", "rk4", "explicit_adams", "implicit_adams"}


class Flow:
    """A vector field ``field(y) -> dy/ds`` and its solver settings.

    Fixed-step methods step by ``ivp_step`` (in the field's time) in
    :meth:`ivp` and by ``span_step`` (in normalised span time) in :meth:`spans`.
    """

    def __init__(self, field, *, method: str = "dopri5", rtol: float = 1e-3,
                 atol: float = 1e-4, ivp_step: float = 0.05, span_step: float = 0.5) -> None:
        self.field = field
        self.method = method
        self.rtol, self.atol = rtol, atol
        self.ivp_step, self.span_step = ivp_step, span_step

    def _solve(self, func, y0, t, step):
        options = {"step_size": step} if self.method in FIXED_STEP else None
        return odeint(func, y0, t, method=self.method, rtol=self.rtol, atol=self.atol,
                      options=options)

    def ivp(self, y0: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The path from ``y0`` at time 0, at sorted times ``s`` (any sign): (M, *y0.shape)."""
        func = lambda _t, y: self.field(y)  # noqa: E731
        zero = s.new_zeros(1)
        parts = []
        back = s[s < 0]
        if back.numel():
            out = self._solve(func, y0, torch.cat([zero, back.flip(0)]), self.ivp_step)
            parts.append(out[1:].flip(0))
        fwd = s[s >= 0]
        if fwd.numel():
            has_zero = bool(fwd[0] == 0)
            out = self._solve(func, y0, fwd if has_zero else torch.cat([zero, fwd]), self.ivp_step)
            parts.append(out if has_zero else out[1:])
        return torch.cat(parts)

    def spans(self, y0: torch.Tensor, duration: torch.Tensor, tau: torch.Tensor,
              energy: bool = False):
        """Solve spans from ``y0`` (..., K) lasting ``duration`` (...) (negative: backwards)
        at shared normalised times ``tau`` (P,), sorted, starting at 0.

        Returns (P, ..., K); with ``energy`` also the energy integral over each span
        so far, (P, ...): int |f|^2 / K ds, or int field.energy(f) ds when the field
        defines ``energy`` (e.g. the acceleration part of a second-order field).
        """
        measure = getattr(self.field, "energy", None) or (lambda f: f.pow(2).mean(-1))
        scale = duration.unsqueeze(-1)
        if not energy:
            return self._solve(lambda _t, y: scale * self.field(y), y0, tau, self.span_step)

        def func(_t, state):
            y, _ = state
            f = self.field(y)
            return scale * f, duration.abs() * measure(f)

        return self._solve(func, (y0, duration.new_zeros(duration.shape)), tau, self.span_step)


def shared_positions(tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (any shape) in [0, 1] to (sorted unique positions starting at 0,
    index of each input position in them)."""
    flat = torch.cat([tau.new_zeros(1), tau.reshape(-1)])
    grid, inverse = torch.unique(flat, sorted=True, return_inverse=True)
    return grid, inverse[1:].reshape(tau.shape)
