"""Regressor-guided edits: move a code so the factor regressor reads one factor changed
and the others kept.

No straight line in ``shapes64``'s W turns a hue everywhere (hue is periodic and only
~35% of its (cos, sin) is linear in W), and the size is as tangled, so each code gets
its own W+ offset, from a small trained network (:mod:`dynode_shapes.edit_network`).
The edit runs it in a closed loop, :data:`ITERATIONS` times: read the code's render
with the regressor, then add, for every factor, the network's offset towards that
factor's goal (the edited factor's target, every other factor's starting reading).
The first pass does most of the move; the later ones correct what it missed and what
it moved by accident.

Every step is a continuous function of the code (the generator, the soft-argmax
regressor, smooth MLPs, a clamp), so the edit is continuous in the codes: a 1e-5 move
of the codes moves the edited codes by about as much (a per-code optimisation moved
them by 0.1-0.3). It is deterministic, and strength 0 is the identity.
"""

from __future__ import annotations

import math

import torch

from .edit_network import PERIODIC, PX_SCALE, EditNetwork, features, readings

#: Passes of the closed loop (measured with the bundled network on 64 sampled codes: the
#: hue edit reaches 0.84 +/- 0.19 of its target in one pass, 0.97 in three, 0.99 +/- 0.02
#: in five).
ITERATIONS = 5
#: The largest strength one pass asks of the network (the range it was trained on).
MAX_STEP = 1.5


def _position(factor: str, now: dict) -> torch.Tensor:
    """Where ``factor`` reads: frame units, or turns for the hues."""
    if factor in PERIODIC:
        return torch.atan2(now[factor][:, 1], now[factor][:, 0]) / (2 * math.pi)
    return now[factor] / PX_SCALE


def _unwrapped(last: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """``turns`` (in (-0.5, 0.5]) moved by whole turns to lie within half a turn of ``last``:
    a pass moves a hue by well under half a turn, so the hue is followed continuously."""
    step = turns - last
    return last + torch.atan2(torch.sin(2 * math.pi * step),
                              torch.cos(2 * math.pi * step)) / (2 * math.pi)


class GuidedEdit:
    """``edit(codes, strength)``: codes (..., L, D) with ``factor`` moved by
    ``amount * strength`` (frame units, or turns for the hues) as the regressor reads it
    (``generator`` renders the codes for it)."""

    def __init__(self, network: EditNetwork, generator, factor: str, amount: float,
                 batch_size: int = 64) -> None:
        self.network, self.generator = network, generator
        self.factor, self.amount, self.batch_size = factor, float(amount), batch_size
        self._regressor = None

    def _read(self, codes: torch.Tensor) -> dict[str, torch.Tensor]:
        from .regressor import load_regressor

        if self._regressor is None:
            self._regressor = load_regressor(codes.device).eval().requires_grad_(False)
        return readings(self._regressor(self.generator.synthesize(codes, noise_mode="const")))

    @torch.no_grad()
    def __call__(self, codes: torch.Tensor, strength: float) -> torch.Tensor:
        shape = codes.shape
        if float(strength) == 0.0:
            return codes.clone()
        device = self.network.w_avg.device
        flat = codes.detach().reshape(-1, *shape[-2:]).to(device, torch.float32)
        out = [self._edit(chunk, float(strength)) for chunk in flat.split(self.batch_size)]
        return torch.cat(out).reshape(shape).to(codes)

    def _edit(self, codes: torch.Tensor, strength: float) -> torch.Tensor:
        config = self.network.config
        start = self._read(codes)
        where = {f: _position(f, start) for f in config.factors}
        goal = dict(where)
        goal[self.factor] = goal[self.factor] + self.amount * strength
        for iteration in range(ITERATIONS):
            now = start if iteration == 0 else self._read(codes)
            seen = features(now)
            offset = torch.zeros_like(codes)
            for index, (factor, amount) in enumerate(zip(config.factors, config.amounts)):
                found = _position(factor, now)
                if factor in PERIODIC:
                    where[factor] = found = _unwrapped(where[factor], found)
                step = ((goal[factor] - found) / amount).clamp(-MAX_STEP, MAX_STEP)
                offset += self.network(codes, seen, step,
                                       torch.full_like(step, index, dtype=torch.long))
            codes = codes + offset
        return codes
