"""Integrating an autonomous vector field with torchdiffeq's ``odeint``.

Plain backprop through the solver (never the adjoint: far slower here). An
adaptive solve that meets stiffness (its step size underflows, it needs far more
steps than the fixed-step solve would, or its result is not finite) is redone with
a fixed-step rk4 solve instead of failing (:data:`STIFF_FACTOR`).
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
#: An adaptive solve that fails (step size underflow, a non-finite result) or needs
#: more than STIFF_FACTOR times the fixed-step count plus STIFF_MINIMUM steps is stiff
#: there: it is redone with STIFF_METHOD at the fixed step (then 4x, 16x finer while the
#: result is not finite).
STIFF_FACTOR, STIFF_MINIMUM, STIFF_METHOD = 8, 256, "rk4"


def _finite(out) -> bool:
    return all(bool(torch.isfinite(part).all()) for part in (out if isinstance(out, tuple)
                                                              else (out,)))


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
        #: Solves redone with the fixed-step method because the adaptive one was stiff.
        self.stiff_fallbacks = 0

    def _solve(self, func, y0, t, step):
        if self.method in FIXED_STEP:
            return self._fixed(func, y0, t, step, self.method)
        span = float((t[-1] - t[0]).abs())
        limit = STIFF_FACTOR * (int(span / step) + 1) + STIFF_MINIMUM
        try:
            out = odeint(func, y0, t, method=self.method, rtol=self.rtol, atol=self.atol,
                         options={"max_num_steps": limit})
        except AssertionError as exc:  # dt underflow or too many steps: stiff here
            if not any(word in str(exc) for word in ("underflow", "max_num_steps")):
                raise
        else:
            if _finite(out):
                return out
        self.stiff_fallbacks += 1
        for refine in (1, 4, 16):  # the fixed-step solve, finer until it stays finite
            out = self._fixed(func, y0, t, step / refine, STIFF_METHOD)
            if _finite(out):
                return out
        return out

    def _fixed(self, func, y0, t, step, method):
        return odeint(func, y0, t, method=method, options={"step_size": step})

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
