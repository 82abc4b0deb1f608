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


def spline_velocity(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Velocities at the keyframes of the natural cubic spline through them (T, K)."""
    from scipy.interpolate import CubicSpline

    s64, y64 = s.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()
    if len(s64) < 3:
        v = np.repeat((y64[1:] - y64[:1]) / (s64[1] - s64[0]), len(s64), 0)
    else:
        v = CubicSpline(s64, y64, axis=0, bc_type="natural")(s64, 1)
    return torch.as_tensor(v, dtype=y.dtype, device=y.device)


def collocation_points(s: torch.Tensor, y: torch.Tensor, count: int) -> tuple[torch.Tensor, ...]:
    """Positions, velocities and accelerations (count, K) of the natural cubic spline
    through keyframes (s, y), at ``count`` evenly spaced times over their range."""
    from scipy.interpolate import CubicSpline

    s64, y64 = s.detach().cpu().double().numpy(), y.detach().cpu().double().numpy()
    t = np.linspace(s64[0], s64[-1], count)
    if len(s64) < 3:
        chord = (y64[1:] - y64[:1]) / (s64[1] - s64[0])
        out = (y64[:1] + (t - s64[0])[:, None] * chord, np.repeat(chord, count, 0),
               np.zeros((count, y64.shape[1])))
    else:
        spline = CubicSpline(s64, y64, axis=0, bc_type="natural")
        out = (spline(t), spline(t, 1), spline(t, 2))
    return tuple(torch.as_tensor(v, dtype=y.dtype, device=y.device) for v in out)
