"""Interpolation baselines as piecewise polynomials on the reduced coordinates.

scipy builds the coefficients (CPU, float64); evaluation is torch on the
model's device, so the baselines take and return tensors on CPU or CUDA.
Past either end the path continues in a straight line with the end velocity.
``propagate`` moves a new start along the same motion: z0 + (path(t) - path(t0)).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import ReducedDynamics


class PiecewisePolynomial(nn.Module):
    """Coefficients (degree + 1, T - 1, K), highest power first (scipy's PPoly layout)."""

    def __init__(self, frames: int, dim: int, degree: int) -> None:
        super().__init__()
        self.register_buffer("knots", torch.zeros(frames))
        self.register_buffer("coeffs", torch.zeros(degree + 1, frames - 1, dim))

    def set(self, knots: np.ndarray, coeffs: np.ndarray) -> None:
        self.knots.copy_(torch.as_tensor(knots))
        self.coeffs.copy_(torch.as_tensor(coeffs))

    def _horner(self, coeffs, idx, dx):
        out = coeffs[0][idx]
        for c in coeffs[1:]:
            out = out * dx[:, None] + c[idx]
        return out

    def _derivative(self) -> torch.Tensor:
        degree = self.coeffs.shape[0] - 1
        powers = torch.arange(degree, 0, -1, dtype=self.coeffs.dtype, device=self.coeffs.device)
        return self.coeffs[:-1] * powers[:, None, None]

    def _at(self, coeffs, s):
        idx = (torch.searchsorted(self.knots, s.contiguous(), right=True) - 1).clamp(
            0, len(self.knots) - 2)
        return self._horner(coeffs, idx, s - self.knots[idx])

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        first, last = self.knots[0], self.knots[-1]
        out = self._at(self.coeffs, s.clamp(first, last))
        outside = (s < first) | (s > last)
        if outside.any():
            end = torch.where(s > last, last, first)[outside]
            slope = self._at(self._derivative(), end)
            out[outside] = out[outside] + (s[outside] - end)[:, None] * slope
        return out


class SplineDynamics(ReducedDynamics):
    """A baseline defined by how it builds its polynomial coefficients."""

    degree = 1
    passes_keyframes = True

    def coefficients(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Coefficients (degree + 1, T - 1, K) from unit times (T,) and coords (T, K)."""
        raise NotImplementedError

    def _build(self, space) -> nn.Module:
        return PiecewisePolynomial(len(space.times), space.components, self.degree)

    def _fit(self, s, y, progress) -> None:
        progress(0, total=1, description=f"fit {self.component}")
        s64 = s.detach().cpu().double().numpy()
        y64 = y.detach().cpu().double().numpy()
        self.net.set(s64, self.coefficients(s64, y64))
        progress(1)

    def _predict(self, s) -> torch.Tensor:
        return self.net(s)

    def _propagate(self, y0, s) -> torch.Tensor:
        return y0 + self.net(s) - self.net(s.new_zeros(1))
