"""Endpoint-consistent interpolation: paths that pass through every keyframe.

An initial value solve from keyframe i does not land on keyframe i + 1. Two
exact fixes, each applied per interval [s_i, s_i+1] with tau in [0, 1]:

- ``correction``: y(tau) = fwd_i(tau) + w(tau) * (y_i+1 - fwd_i(1)), the
  forward solve from keyframe i plus a growing share of its miss;
- ``blend``: y(tau) = (1 - w(tau)) * fwd_i(tau) + w(tau) * bwd_i+1(tau), a
  forward solve from keyframe i blended with a backward solve from i + 1
  (their gap measures the model's error).

``w`` is the smoothstep 3 tau^2 - 2 tau^3, so the correction does not change
the velocity at the keyframes. Intervals are solved in batches of ``chunk``.
"""

from __future__ import annotations

import torch

from .flow import Flow, shared_positions


def smoothstep(tau: torch.Tensor) -> torch.Tensor:
    return tau * tau * (3 - 2 * tau)


def interval_positions(knots: torch.Tensor,
                       s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Interval index and position tau in [0, 1] of sorted times inside the knots."""
    idx = (torch.searchsorted(knots.contiguous(), s.contiguous(), right=True) - 1).clamp(
        0, len(knots) - 2)
    tau = ((s - knots[idx]) / (knots[idx + 1] - knots[idx])).clamp(0, 1)
    return idx, tau


def straight(knots: torch.Tensor, coords: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of keyframes (knots, coords) at sorted times
    ``s`` inside their range."""
    idx, tau = interval_positions(knots, s)
    return coords[idx] + tau[:, None] * (coords[idx + 1] - coords[idx])


def _chunks(idx: torch.Tensor, chunk: int):
    """Groups of queries whose intervals fall in one block of ``chunk`` intervals."""
    block = idx // chunk
    for value in torch.unique(block):
        sel = (block == value).nonzero().squeeze(1)
        intervals, local = torch.unique(idx[sel], return_inverse=True)
        yield sel, intervals, local


def correction(flow: Flow, knots, starts, coords, s, chunk: int = 256) -> torch.Tensor:
    """Forward solve per interval plus the smoothstep share of its miss. ``starts``
    (T, S) are the solver states at the keyframes, whose first K numbers are the
    positions ``coords`` (T, K) (S > K for second-order fields: position, velocity)."""
    idx, tau = interval_positions(knots, s)
    k = coords.shape[1]
    out = coords.new_empty(len(s), k)
    for sel, iv, b in _chunks(idx, chunk):
        grid, pos = shared_positions(torch.cat([tau[sel], tau.new_ones(1)]))
        paths = flow.spans(starts[iv], knots[iv + 1] - knots[iv], grid)[..., :k]
        miss = coords[iv + 1] - paths[-1]
        out[sel] = paths[pos[:-1], b] + smoothstep(tau[sel])[:, None] * miss[b]
    return out


def blend(flow: Flow, knots, starts, coords, s, chunk: int = 256) -> torch.Tensor:
    """Forward solve from the left keyframe blended with a backward one from the right
    (``starts`` and ``coords`` as in :func:`correction`)."""
    idx, tau = interval_positions(knots, s)
    k = coords.shape[1]
    out = coords.new_empty(len(s), k)
    for sel, iv, b in _chunks(idx, chunk):
        t = tau[sel]
        grid, pos = shared_positions(torch.cat([t, 1 - t]))
        dt = knots[iv + 1] - knots[iv]
        paths = flow.spans(torch.cat([starts[iv], starts[iv + 1]]), torch.cat([dt, -dt]),
                           grid)[..., :k]
        fwd = paths[pos[: len(t)], b]
        bwd = paths[pos[len(t):], b + len(iv)]
        w = smoothstep(t)[:, None]
        out[sel] = (1 - w) * fwd + w * bwd
    return out


#: Endpoint modes by name; ``none`` is a plain initial value solve from the first keyframe.
MODES = {"correction": correction, "blend": blend, "none": None}
