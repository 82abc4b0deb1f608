"""How far a :class:`~dynode_shapes.regressor.Reading` is from the true factors.

Units: positions and size in pixels of a 64 px frame (``size`` is the radius of the
equal-area disk), rotation in degrees modulo the shape's symmetry (squares and
triangles only), hues in degrees of the colour wheel (360 = one turn).
"""

from __future__ import annotations

import math

import torch

from .regressor import SYMMETRY, Reading
from .world import RESOLUTION, Factors


def circular_difference(a: torch.Tensor, b: torch.Tensor, period: float) -> torch.Tensor:
    """a - b wrapped into [-period / 2, period / 2)."""
    return torch.remainder(a - b + period / 2, period) - period / 2


def _rms(x: torch.Tensor) -> float:
    return float(x.double().square().mean().sqrt()) if x.numel() else float("nan")


def factor_errors(reading: Reading, truth: Factors, resolution: int = RESOLUTION) -> dict[str, float]:
    """RMS errors per factor and the shape accuracy.

    ``position_rms_px`` is the RMS of the Euclidean distance (sqrt(2) times the
    per-axis RMS for isotropic errors); ``*_max_px`` the largest one seen.
    """
    truth = truth.to(reading.x.device)
    dx, dy = (reading.x - truth.x) * resolution, (reading.y - truth.y) * resolution
    dist = torch.sqrt(dx * dx + dy * dy)
    out = {"x_rms_px": _rms(dx), "y_rms_px": _rms(dy), "position_rms_px": _rms(dist),
           "position_max_px": float(dist.max()) if dist.numel() else float("nan"),
           "size_rms_px": _rms((reading.size - truth.size) * resolution),
           "shape_accuracy": float((reading.shape == truth.shape).double().mean())}
    angles = []
    for index, order in enumerate(SYMMETRY):
        rows = (truth.shape == index) & (reading.shape == index)
        if order and rows.any():
            period = 2 * math.pi / order
            angles.append(circular_difference(reading.rotation[rows], truth.rotation[rows], period))
    out["rotation_rms_deg"] = math.degrees(_rms(torch.cat(angles))) if angles else float("nan")
    out["hue_rms_deg"] = 360 * _rms(circular_difference(reading.hue, truth.hue, 1.0))
    out["bg_hue_rms_deg"] = 360 * _rms(circular_difference(reading.bg_hue, truth.bg_hue, 1.0))
    return out


def world_factors(frames, factors: Factors | None = None, device="cpu") -> dict:
    """The ``world-factors`` metric: the bundled regressor's reading of ``frames`` ((T, H, W, 3)
    uint8, or (N, 3, H, W) floats in [-1, 1]) and, given the true ``factors``, its errors."""
    from .regressor import predict_factors

    x = torch.as_tensor(frames)
    if x.dtype == torch.uint8:
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    reading = predict_factors(x.to(device))
    out = {"factors": reading.as_dict()}
    if factors is not None:
        out["errors"] = factor_errors(reading, factors)
    return out
