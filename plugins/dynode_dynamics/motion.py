"""Second-order fields: dynamics of position and velocity.

A first-order autonomous field dy/ds = f(y) gives one velocity per position,
so a path that passes the same point twice in different directions (a
pendulum, a head turning left then right) cannot be followed. A second-order
field d2y/ds2 = a(y, dy/ds) can: :class:`AccelerationField` is the
equivalent first-order system on the state (y, v), d(y, v)/ds = (v, a(y, v)).
The acceleration network starts at zero (constant-velocity motion) and sees
the velocity divided by the observed RMS speed; its output is scaled by the
squared speed, so the networks work with numbers of order one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .fields import FieldEnsemble


class AccelerationField(nn.Module):
    """M members of d(y, v)/ds = (v, a_m(y, v)) on states (..., 2K); see the module
    docstring. ``energy`` is the squared acceleration per coordinate: the smoothness
    a fit pays for."""

    def __init__(self, members: int, dim: int, width: int, depth: int) -> None:
        super().__init__()
        self.dim = dim
        self.accel = FieldEnsemble(members, 2 * dim, width, depth, outputs=dim, zero_last=True)
        self.register_buffer("speed", torch.ones(members, 1, 1))

    @property
    def members(self) -> int:
        return self.accel.members

    def set_speed(self, speed: torch.Tensor) -> None:
        """RMS observed speed per member, (M,)."""
        self.speed.copy_(speed.reshape(-1, 1, 1))
        self.accel.speed.copy_(speed.pow(2).reshape(-1, 1, 1))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        y, v = state[..., :self.dim], state[..., self.dim:]
        speed = self.speed.reshape(()) if self.members == 1 else self.speed
        return torch.cat([v, self.accel(torch.cat([y, v / speed], -1))], -1)

    def energy(self, derivative: torch.Tensor) -> torch.Tensor:
        return derivative[..., self.dim:].pow(2).mean(-1)

    def member(self, index: int) -> "AccelerationField":
        one = AccelerationField(1, self.dim, self.accel.weights[0].shape[2],
                                len(self.accel.weights) - 1).to(self.speed.device)
        one.accel = self.accel.member(index)
        one.speed.copy_(self.speed[index:index + 1])
        return one


class SecondOrderModel(nn.Module):
    """A fitted second-order field and the velocity it assigns to every keyframe."""

    def __init__(self, field: AccelerationField, frames: int) -> None:
        super().__init__()
        self.field = field
        self.register_buffer("velocity", torch.zeros(frames, field.dim))

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.field(state)

    def energy(self, derivative: torch.Tensor) -> torch.Tensor:
        return self.field.energy(derivative)


def _natural_spline(s: torch.Tensor, y: torch.Tensor):
    """scipy's natural cubic spline through keyframes (s, y) (a straight line for two)
    and the keyframe times as a float64 array."""
    from scipy.interpolate import CubicSpline

    s64 = s.detach().cpu().double().numpy()
    return CubicSpline(s64, y.detach().cpu().double().numpy(), axis=0, bc_type="natural"), s64


def spline_velocity(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Velocities at the keyframes of the natural cubic spline through them (T, K)."""
    spline, s64 = _natural_spline(s, y)
    return torch.as_tensor(spline(s64, 1), dtype=y.dtype, device=y.device)


def collocation_points(s: torch.Tensor, y: torch.Tensor, count: int) -> tuple[torch.Tensor, ...]:
    """Positions, velocities and accelerations (count, K) of the natural cubic spline
    through keyframes (s, y), at ``count`` evenly spaced times over their range."""
    spline, s64 = _natural_spline(s, y)
    t = np.linspace(s64[0], s64[-1], count)
    return tuple(torch.as_tensor(spline(t, order), dtype=y.dtype, device=y.device)
                 for order in (0, 1, 2))
