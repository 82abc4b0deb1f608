"""The alias-free nonlinearity of StyleGAN3 as polyphase and strided depthwise convolutions.

A synthesis layer's activation is: up-sample by ``up`` (zeros between samples, then the
low-pass ``up_filter`` with gain ``up`` per axis), leaky ReLU times ``gain``, clamp, then
low-pass ``down_filter`` and keep every ``down``-th sample. ``padding`` (x0, x1, y0, y1)
is applied to the up-sampled grid before the up filter (negative values crop). Filters are
convolved as true convolutions (flipped), as the definition of up/FIR/down resampling says.

Nothing here multiplies the inserted zeros: the up-sampling runs as ``up`` phase filters of
``taps / up`` taps each on the low-rate signal, interleaved afterwards; the down-sampling is
a strided convolution that computes only the samples it keeps. A separable (1-D) filter
runs as one pass per axis, a radial (2-D) one as one 2-D pass.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _phase_taps(f: torch.Tensor, up: int) -> torch.Tensor:
    """(up, taps/up) correlation kernels: phase r holds f[r], f[r+up], ... reversed."""
    per_phase = -(-f.numel() // up)
    padded = F.pad(f, (0, per_phase * up - f.numel()))
    return padded.view(per_phase, up).t().flip(1)


def upsample_axis(x: torch.Tensor, f: torch.Tensor, up: int, pad0: int, pad1: int,
                  axis: int) -> torch.Tensor:
    """Up-sample (N, C, H, W) along ``axis`` (2: H, 3: W) by ``up`` with the 1-D filter ``f``
    (its gain included), after padding the up-sampled axis by ``pad0``/``pad1``.

    Output length ``n * up + pad0 + pad1 - len(f) + 1``. Sample ``m`` is
    ``sum_i x[i] f[m + len(f) - 1 - pad0 - i * up]``: phase ``r`` of the full product is a
    plain convolution of ``x`` with every ``up``-th tap of ``f``.
    """
    n, c = x.shape[:2]
    length = x.shape[axis]
    taps = _phase_taps(f.to(x.dtype), up)
    k = taps.shape[1]
    shape = (c * up, 1, 1, k) if axis == 3 else (c * up, 1, k, 1)
    weight = taps.repeat(c, 1).view(shape)
    pad = (0, k - 1) if axis == 3 else (k - 1, 0)
    z = F.conv2d(x, weight, padding=pad, groups=c)  # (N, C*up, ., .): phases per channel
    if axis == 3:
        z = z.view(n, c, up, z.shape[2], z.shape[3]).permute(0, 1, 3, 4, 2)
        z = z.reshape(n, c, z.shape[2], -1)
    else:
        z = z.view(n, c, up, z.shape[2], z.shape[3]).permute(0, 1, 3, 2, 4)
        z = z.reshape(n, c, -1, z.shape[4])
    start = f.numel() - 1 - pad0
    out_len = length * up + pad0 + pad1 - f.numel() + 1
    end_pad = start + out_len - z.shape[axis]
    return F.pad(z, (-start, end_pad) if axis == 3 else (0, 0, -start, end_pad))


def downsample(x: torch.Tensor, f: torch.Tensor, down: int) -> torch.Tensor:
    """Low-pass ``x`` with ``f`` (1-D: separable, 2-D: radial) and keep every ``down``-th
    sample, as strided depthwise convolutions (no padding)."""
    c = x.shape[1]
    g = f.to(x.dtype).flip(list(range(f.dim())))
    if f.dim() == 2:
        weight = g[None, None].expand(c, 1, *g.shape)
        return F.conv2d(x, weight, stride=down, groups=c)
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, down), groups=c)
    return F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), stride=(down, 1), groups=c)


def filtered_lrelu(x: torch.Tensor, up_filter: torch.Tensor | None,
                   down_filter: torch.Tensor | None, *, up: int, down: int,
                   padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """Up-sample, leaky ReLU (``slope``) times ``gain``, clamp to +-``clamp``, down-sample.

    ``x`` already holds the layer's bias. The gain is folded into the up filter
    (``lrelu(g v) == g lrelu(v)`` for ``g > 0``).
    """
    px0, px1, py0, py1 = padding
    if up_filter is None:
        if up != 1:
            raise ValueError(f"up-sampling by {up} needs an up filter")
        x = F.pad(x, (px0, px1, py0, py1))
        if gain != 1:
            x = x * gain
    else:
        if up_filter.dim() != 1:
            raise ValueError("the up filter must be separable (1-D)")
        x = upsample_axis(x, up_filter * (up * gain), up, px0, px1, axis=3)
        x = upsample_axis(x, up_filter * up, up, py0, py1, axis=2)
    if slope != 1:
        x = F.leaky_relu(x, slope, inplace=True) if not x.requires_grad else F.leaky_relu(x, slope)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if not x.requires_grad else x.clamp(-clamp, clamp)
    if down_filter is None:
        if down != 1:
            raise ValueError(f"down-sampling by {down} needs a down filter")
        return x
    return downsample(x, down_filter, down)
