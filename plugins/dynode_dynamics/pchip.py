"""``pchip``: piecewise cubic Hermite interpolation, shape preserving (scipy baseline)."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from .splines import SplineDynamics


class PchipDynamics(SplineDynamics):
    """Monotone cubic per coordinate (no overshoot); straight lines past the ends."""

    component = "pchip"
    degree = 3

    def coefficients(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        return PchipInterpolator(s, y, axis=0).c
