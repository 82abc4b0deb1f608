"""FFHQ alignment of 68-point landmarks, gap filling and temporal smoothing.

The construction (facts of the FFHQ dataset's alignment, re-implemented): from the eye
centres (means of landmarks 36-41 and 42-47) and the mouth corners (48 and 54),

- ``eye_avg`` = the mean of the eye centres, ``eye_to_eye`` = right - left eye centre,
  ``eye_to_mouth`` = mean of the mouth corners - ``eye_avg``;
- the crop's x axis is ``eye_to_eye`` minus ``eye_to_mouth`` turned by 90 degrees
  ((a, b) -> (-b, a)),
  normalised and scaled to the larger of 2.0 x the eye distance and 1.8 x the
  eye-to-mouth distance; the y axis is x turned by 90 degrees;
- the centre is ``eye_avg + 0.1 eye_to_mouth``; the quad's corners are
  c - x - y, c - x + y, c + x + y, c + x - y (a square of side 2 |x|).

Peers (STIT) smooth the centre with a Gaussian of sigma 1 frame and the axis with 3.
"""

from __future__ import annotations

import numpy as np


def _turn(v: np.ndarray) -> np.ndarray:
    """``v`` turned by 90 degrees: (a, b) -> (-b, a)."""
    return np.stack([-v[..., 1], v[..., 0]], axis=-1)


def centre_and_axis(marks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centres (T, 2), x axes (T, 2)) of FFHQ quads from 68-point landmarks (T, 68, 2);
    NaN rows stay NaN."""
    eye_left = marks[:, 36:42].mean(axis=1)
    eye_right = marks[:, 42:48].mean(axis=1)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (marks[:, 48] + marks[:, 54]) / 2 - eye_avg
    x = eye_to_eye - _turn(eye_to_mouth)
    x = x / np.linalg.norm(x, axis=-1, keepdims=True)
    scale = np.maximum(np.linalg.norm(eye_to_eye, axis=-1) * 2.0,
                       np.linalg.norm(eye_to_mouth, axis=-1) * 1.8)
    return eye_avg + 0.1 * eye_to_mouth, x * scale[:, None]


def quads(centres: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """(T, 4, 2) quads from centres and x axes (the y axis is x turned by 90 degrees)."""
    y = _turn(axes)
    return np.stack([centres - axes - y, centres - axes + y, centres + axes + y,
                     centres + axes - y], axis=1)


#: A detection whose centre lies further than this many half-sides of its quad from the
#: median of its found neighbours (JUMP_WINDOW on each side) is a jump, not motion.
JUMP = 0.5
JUMP_WINDOW = 2


def jumps(centres: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """(T,) bool: found centres that jump away from their found neighbours' median."""
    found = np.flatnonzero(np.isfinite(centres).all(axis=1))
    out = np.zeros(len(centres), bool)
    if len(found) < 2 * JUMP_WINDOW + 1:
        return out
    for k, index in enumerate(found):
        lo = max(0, min(k - JUMP_WINDOW, len(found) - 2 * JUMP_WINDOW - 1))
        near = centres[found[lo:lo + 2 * JUMP_WINDOW + 1]]
        gap = np.linalg.norm(centres[index] - np.median(near, axis=0))
        out[index] = gap > JUMP * np.linalg.norm(axes[index])
    return out


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Rows that are NaN replaced by linear interpolation between the nearest found rows
    (the first / last found row beyond the ends)."""
    values = values.copy()
    found = np.isfinite(values).all(axis=1)
    index = np.arange(len(values))
    for col in range(values.shape[1]):
        values[~found, col] = np.interp(index[~found], index[found], values[found, col])
    return values


def smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian over time (sigma in frames; the ends repeat); 0 leaves them as they are."""
    if sigma <= 0 or len(values) < 2:
        return values
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(values, sigma, axis=0, mode="nearest")
