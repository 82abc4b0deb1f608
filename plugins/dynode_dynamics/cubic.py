"""``cubic``: natural cubic spline through the keyframes (scipy baseline)."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

from .splines import SplineDynamics


class CubicDynamics(SplineDynamics):
    """C2 natural cubic spline; straight lines with the end velocity past the ends."""

    component = "cubic"
    degree = 3

    def coefficients(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        if len(s) < 3:  # a natural spline through two points is the straight line
            slope = np.diff(y, axis=0) / np.diff(s)[:, None]
            zero = np.zeros_like(slope)
            return np.stack([zero, zero, slope, y[:-1]])
        return CubicSpline(s, y, axis=0, bc_type="natural").c
