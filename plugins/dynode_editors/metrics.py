"""Metrics of an edited video: edit consistency in latent space and temporal flicker."""

from __future__ import annotations

import numpy as np
import torch


def _codes(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().cpu().double()
    return x[:, None] if x.dim() == 2 else x


def _unit_wplus(direction, num_layers: int, dim: int) -> torch.Tensor:
    vector = getattr(direction, "vector", direction)
    vector = torch.as_tensor(vector).detach().cpu().double()
    vector = vector.expand(num_layers, dim) if vector.dim() == 1 else vector.reshape(num_layers, dim)
    return vector / vector.norm()


def edit_consistency(original, edited, direction) -> dict:
    """How well an edit made at frame 0 holds over time.

    ``original``, ``edited``: codes (T, L, D) of the unedited and edited videos at
    the same times; ``direction``: a Direction or its (D,) / (L, D) vector.
    With ``delta(t) = edited(t) - original(t)`` and the unit W+ direction ``v``:

    - ``component``: ``<delta(t), v>`` per frame; ``component_max_rel_dev``: its
      largest deviation from frame 0, relative to frame 0's (0 = the edit holds);
    - ``residual_mse``: mean square of ``delta(t) - delta(0)`` outside ``v`` (0 =
      the edited video moves exactly as the original apart from the edit), and
      ``residual_rel``: its sum of squares over the original motion's
      (``original(t) - original(0)``).
    """
    a, b = _codes(original), _codes(edited)
    if a.shape != b.shape:
        raise ValueError(f"original {tuple(a.shape)} and edited {tuple(b.shape)} codes differ in shape")
    v = _unit_wplus(direction, a.shape[1], a.shape[2])
    delta = b - a
    component = (delta * v).sum(dim=(1, 2))
    drift = delta - delta[:1]
    residual = drift - (drift * v).sum(dim=(1, 2))[:, None, None] * v
    motion = (a - a[:1]).square().sum()
    base = component[0].abs().clamp_min(1e-30)
    return {
        "component": component.tolist(),
        "component_max_rel_dev": float((component - component[0]).abs().max() / base),
        "residual_mse": float(residual.square().mean()),
        "residual_rel": float(residual.square().sum() / motion) if motion > 0 else 0.0,
    }


def _frames(video) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(video) if not torch.is_tensor(video) else video).detach().cpu()
    return x.double() / 255.0 if x.dtype == torch.uint8 else x.double()


def mean_abs_step(video) -> float:
    """Mean absolute difference between consecutive frames (any frame layout)."""
    x = _frames(video)
    if x.shape[0] < 2:
        raise ValueError("flicker needs at least two frames")
    return float((x[1:] - x[:-1]).abs().mean())


def flicker(video, original=None) -> dict:
    """Temporal flicker: mean |frame(t+1) - frame(t)| of ``video`` (uint8 frames read as
    [0, 1]; floats in their own units), and its ratio to ``original``'s when given."""
    out = {"flicker": mean_abs_step(video)}
    if original is not None:
        ref = mean_abs_step(original)
        out["original_flicker"] = ref
        out["ratio"] = out["flicker"] / ref if ref > 0 else float("inf")
    return out
