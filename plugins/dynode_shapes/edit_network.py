"""The network behind the guided edits (:mod:`dynode_shapes.guided`) and what it was
trained to minimise.

:class:`EditNetwork` holds one small MLP per factor (two hidden layers of SiLU units).
Given a W+ code, the factor regressor's reading of its render and a strength, the
factor's MLP returns a W+ offset. It was trained (``scripts/train_guided_edits.py``)
to minimise :func:`guided_loss` through the frozen generator and regressor: the
factor moved by ``amount * strength`` as the regressor reads it, every other reading
(position, size, rotation, both hues, the shape) kept, a small penalty on the
offset's norm. The offset is ``strength`` times the MLP's output, so strength 0 is
no move, and an MLP with smooth activations is a smooth function of its input.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .directions import AMOUNTS, PERIODIC

FORMAT = "dynode.shapes-guided/1"
#: The factors the network edits, in the order of its MLPs.
FACTORS = tuple(AMOUNTS)
#: Frame units per loss unit for position and size: a 4 px miss costs 1.
PX_SCALE = 64 / 4
#: The penalty on the squared norm of the offset, per code.
NORM_WEIGHT = 1e-3


def _unit(cs: torch.Tensor) -> torch.Tensor:
    return cs / cs.norm(dim=-1, keepdim=True).clamp_min(1e-6)


def readings(raw: dict) -> dict[str, torch.Tensor]:
    """Differentiable readings of the regressor's raw outputs: positions/size in loss
    units, hues and the rotation phases (as a square and as a triangle) as unit
    (cos, sin), shape probabilities."""
    xy = raw["xy"] * PX_SCALE
    return {"x": xy[:, 0], "y": xy[:, 1], "size": raw["size"] * PX_SCALE,
            "hue": _unit(raw["hue"]), "bg_hue": _unit(raw["bg_hue"]),
            "shape": raw["shape"].softmax(1), "square": _unit(raw["square"]),
            "triangle": _unit(raw["triangle"])}


def target(factor: str, before: torch.Tensor, change: torch.Tensor) -> torch.Tensor:
    """The reading of ``factor`` after moving it by ``change`` (per code; turns for hues)."""
    if factor in PERIODIC:
        angle = 2 * math.pi * change
        cos, sin = torch.cos(angle), torch.sin(angle)
        return torch.stack([before[:, 0] * cos - before[:, 1] * sin,
                            before[:, 0] * sin + before[:, 1] * cos], 1)
    return before + change * PX_SCALE


def _sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    d = (a - b).square()
    return d.sum(1) if d.dim() > 1 else d


def guided_loss(now: dict, before: dict, factor: str, change: torch.Tensor,
                offset: torch.Tensor) -> torch.Tensor:
    """Per code: the miss of ``factor``'s target, every other reading's move (a rotation
    phase counted as much as the code looks like that shape) and the offset's norm."""
    weights = {"square": before["shape"][:, 1], "triangle": before["shape"][:, 2]}
    loss = _sq(now[factor], target(factor, before[factor], change))
    for name, value in now.items():
        if name != factor:
            loss = loss + weights.get(name, 1.0) * _sq(value, before[name])
    return loss + NORM_WEIGHT * offset.square().flatten(1).sum(1)


#: The readings the network sees beside the code, in this order (14 numbers).
FEATURES = ("x", "y", "size", "hue", "bg_hue", "shape", "square", "triangle")


def features(now: dict) -> torch.Tensor:
    """(N, 14): the readings as the network's input (positions and size in frame units)."""
    parts = [now[name] / PX_SCALE if name in ("x", "y", "size") else now[name]
             for name in FEATURES]
    return torch.cat([p if p.dim() > 1 else p[:, None] for p in parts], 1)


@dataclass
class EditConfig:
    """Shape of an :class:`EditNetwork`: the generator's W+, the hidden width, the
    factors in the order of its MLPs and what strength 1.0 moves each by."""

    num_ws: int
    style_dim: int
    hidden: int = 256
    factors: tuple = FACTORS
    #: What strength 1.0 moves each factor by (frame units; turns for the hues).
    amounts: tuple = tuple(AMOUNTS.values())
    features: int = 14

    def __post_init__(self) -> None:
        self.factors, self.amounts = tuple(self.factors), tuple(self.amounts)


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    """Two SiLU hidden layers; the last layer starts at zero (no move)."""
    mlp = nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                        nn.SiLU(), nn.Linear(hidden, outputs))
    nn.init.zeros_(mlp[-1].weight)
    nn.init.zeros_(mlp[-1].bias)
    return mlp


class EditNetwork(nn.Module):
    """One MLP per factor: ``offset = strength * mlp_factor([(mean code - w_avg) / w_std,
    readings, strength])``, a W+ offset for codes (N, num_ws, style_dim); readings
    (N, features) from :func:`features`."""

    def __init__(self, config: EditConfig) -> None:
        super().__init__()
        self.config = c = config
        self.mlps = nn.ModuleList(_mlp(c.style_dim + c.features + 1, c.hidden,
                                       c.num_ws * c.style_dim) for _ in c.factors)
        self.register_buffer("w_avg", torch.zeros(c.style_dim))
        self.register_buffer("w_std", torch.ones(()))

    def forward(self, codes: torch.Tensor, readings: torch.Tensor, strength: torch.Tensor,
                factor: torch.Tensor) -> torch.Tensor:
        x = (codes.mean(1) - self.w_avg) / self.w_std
        x = torch.cat([x, readings.to(x), strength[:, None].to(x)], 1)
        out = torch.zeros(len(codes), codes.shape[1] * codes.shape[2], dtype=x.dtype,
                          device=x.device)
        for index in factor.unique().tolist():
            rows = factor == index
            out[rows] = self.mlps[index](x[rows])
        return strength.to(x).view(-1, 1, 1) * out.view_as(codes) * self.w_std


def save_network(network: EditNetwork, path, **info) -> None:
    """Write the network (safetensors, float16 storage; it loads as float32; config and
    ``info`` in the metadata and a JSON sidecar)."""
    from dynode_core import atomic_write_text, write_safetensors

    record = {"config": asdict(network.config), **info}
    state = {k: v.detach().half().contiguous() for k, v in network.state_dict().items()}
    write_safetensors(path, state, fmt=FORMAT, metadata={"record": json.dumps(record)})
    atomic_write_text(Path(path).with_suffix(".json"), json.dumps(record, indent=2) + "\n")


def load_network(path, device="cpu") -> tuple[EditNetwork, dict]:
    """(network in eval mode, its record) from a file :func:`save_network` wrote."""
    from safetensors import safe_open

    from dynode_core import InputError

    with safe_open(str(path), framework="pt", device=str(device)) as handle:
        meta = handle.metadata() or {}
        if meta.get("format") != FORMAT:
            raise InputError(f"{path}: not a guided-edit network (format {meta.get('format')!r}, "
                             f"expected {FORMAT!r})")
        record = json.loads(meta["record"])
        state = {k: handle.get_tensor(k).float() for k in handle.keys()}
    network = EditNetwork(EditConfig(**record["config"])).to(device)
    network.load_state_dict(state)
    return network.eval().requires_grad_(False), record
