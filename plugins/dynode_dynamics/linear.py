"""``linear``: piecewise linear interpolation between keyframes (baseline)."""

from __future__ import annotations

import numpy as np

from .splines import SplineDynamics


class LinearDynamics(SplineDynamics):
    """Straight lines between keyframes; constant velocity past the ends."""

    component = "linear"
    degree = 1

    def coefficients(self, s: np.ndarray, y: np.ndarray) -> np.ndarray:
        slope = np.diff(y, axis=0) / np.diff(s)[:, None]
        return np.stack([slope, y[:-1]])
