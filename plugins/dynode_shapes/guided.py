"""Regressor-guided edits: move a code until the factor regressor reads the change.

No straight line in ``shapes64``'s W turns a hue everywhere (hue is periodic and
only ~35% of its (cos, sin) is linear in W), and the size is as tangled. A guided
edit instead finds, per code, the W+ offset whose render the (differentiable)
factor regressor reads with the factor moved by ``amount * strength`` while the
other factors (position, size, rotation, both hues, the shape) read as before, with a small
penalty on the offset's norm. Adam, ``steps`` steps; the generator and regressor
stay frozen. Measured on held-out samples by ``scripts/fit_shapes_directions.py``.
"""

from __future__ import annotations

import math

import torch

PERIODIC = ("hue", "bg_hue")
#: Frame units per loss unit for position and size: a 4 px miss costs 1.
PX_SCALE = 64 / 4


def _unit(cs: torch.Tensor) -> torch.Tensor:
    return cs / cs.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def _values(raw: dict) -> dict[str, torch.Tensor]:
    """Differentiable readings: positions/size in loss units, hues and the rotation phases
    (as a square and as a triangle) as unit (cos, sin), shape probabilities."""
    xy = raw["xy"] * PX_SCALE
    return {"x": xy[:, 0], "y": xy[:, 1], "size": raw["size"] * PX_SCALE,
            "hue": _unit(raw["hue"]), "bg_hue": _unit(raw["bg_hue"]),
            "shape": raw["shape"].softmax(1), "square": _unit(raw["square"]),
            "triangle": _unit(raw["triangle"])}


def _target(factor: str, before: torch.Tensor, change: float) -> torch.Tensor:
    if factor in PERIODIC:
        angle = torch.atan2(before[:, 1], before[:, 0]) + 2 * math.pi * change
        return torch.stack([torch.cos(angle), torch.sin(angle)], 1)
    return before + change * PX_SCALE


def _sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = (a - b).square()
    return d.sum(1) if d.dim() > 1 else d


class GuidedEdit:
    """``edit(codes, strength)``: codes (..., L, D) with ``factor`` moved by
    ``amount * strength`` (frame units, or turns for the hues) as the regressor reads it."""

    def __init__(self, generator, factor: str, amount: float, steps: int = 80, lr: float = 0.05,
                 norm_weight: float = 1e-3, regressor=None) -> None:
        from .regressor import load_regressor

        self.generator, self.factor, self.amount = generator, factor, float(amount)
        self.steps, self.lr, self.norm_weight = int(steps), float(lr), float(norm_weight)
        device = next(generator.parameters()).device
        self.regressor = (regressor or load_regressor(device)).eval().requires_grad_(False)

    def _read(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        return _values(self.regressor(self.generator.synthesize(codes, noise_mode="const")))

    def __call__(self, codes: torch.Tensor, strength: float) -> torch.Tensor:
        shape = codes.shape
        device = next(self.generator.parameters()).device
        flat = codes.detach().reshape(-1, *shape[-2:]).to(device, torch.float32)
        with torch.no_grad():
            before = self._read(flat)
        target = _target(self.factor, before[self.factor], self.amount * float(strength))
        # a rotation phase counts as much as the code looks like that shape
        weights = {"square": before["shape"][:, 1], "triangle": before["shape"][:, 2]}
        delta = torch.zeros_like(flat, requires_grad=True)
        optimiser = torch.optim.Adam([delta], lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.steps):
                now = self._read(flat + delta)
                loss = _sq(now[self.factor], target)
                for name, value in now.items():
                    if name != self.factor:
                        loss = loss + weights.get(name, 1.0) * _sq(value, before[name])
                loss = loss + self.norm_weight * delta.square().sum((1, 2))
                optimiser.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimiser.step()
        return (flat + delta.detach()).reshape(shape).to(codes)
