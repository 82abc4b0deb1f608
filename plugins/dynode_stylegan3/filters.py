"""The alias-free nonlinearity of StyleGAN3 as strided depthwise convolutions.

A synthesis layer's activation is: up-sample by ``up`` (zeros between samples, then the
low-pass ``up_filter`` with gain ``up`` per axis), leaky ReLU times ``gain``, clamp, then
low-pass ``down_filter`` and keep every ``down``-th sample. ``padding`` (x0, x1, y0, y1)
is applied to the up-sampled grid before the up filter (negative values crop). Filters are
true convolutions (flipped), as the definition of up/FIR/down resampling says.

Nothing here multiplies the inserted zeros or computes a sample the down-sampling drops:
the up-sampling is a transposed convolution with stride ``up`` (one pass per axis: the up
filter is separable), the down-sampling a convolution with stride ``down`` (one pass per
axis for a separable filter, one 2-D pass for a radial one). Both run on channels-last
tensors, where depthwise convolutions are several times faster on CPU. The padding and
crops are moved off the high-rate grid: zeros are added to the low-rate input, and the
crop becomes an offset of the down filter plus a slice of the low-rate output.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

CHANNELS_LAST = torch.channels_last


@dataclass(frozen=True)
class AxisPlan:
    """One axis of a layer: low-rate zeros to add (``before``, ``after``), the sub-sample
    shift of the down filter (``shift`` < down) and the slice of the output (``start``,
    ``length``)."""

    before: int
    after: int
    shift: int
    start: int
    length: int


def plan_axis(n: int, up: int, down: int, up_taps: int, down_taps: int, pad0: int,
              pad1: int) -> AxisPlan:
    """Where the layer's output lies in the transposed convolution of ``n`` samples.

    The padded, up-filtered signal ``y[m]`` (length ``n*up + pad0 + pad1 - up_taps + 1``)
    is sample ``m + s`` of the transposed convolution, ``s = up_taps - 1 - pad0``; output
    ``j`` filters ``y[j*down ...]``, i.e. ``z[(j + a)*down + b ...]`` with ``s = a*down + b``.
    """
    length = n * up + pad0 + pad1 - up_taps + 1
    offset = up_taps - 1 - pad0
    before = max(0, -(offset // up))  # ceil(-offset / up) when offset < 0
    offset += before * up
    full = (n + before - 1) * up + up_taps
    after = max(0, -(-(length + offset - full) // up))
    start, shift = divmod(offset, down)
    return AxisPlan(before, after, shift, start, (length - down_taps) // down + 1)


def _upsample(x: torch.Tensor, f: torch.Tensor, up: int, axis: int) -> torch.Tensor:
    c, k = x.shape[1], f.numel()
    shape = (c, 1, 1, k) if axis == 3 else (c, 1, k, 1)
    stride = (1, up) if axis == 3 else (up, 1)
    weight = f.to(x.dtype).view(1, 1, *shape[2:]).expand(shape).contiguous()
    return F.conv_transpose2d(x, weight, stride=stride, groups=c)


def _downsample(x: torch.Tensor, f: torch.Tensor, down: int, shift_y: int, shift_x: int):
    c = x.shape[1]
    g = f.to(x.dtype).flip(list(range(f.dim())))
    if f.dim() == 2:
        g = F.pad(g, (shift_x, 0, shift_y, 0))
        return F.conv2d(x, g.expand(c, 1, *g.shape).contiguous(), stride=down, groups=c)
    gx, gy = F.pad(g, (shift_x, 0)), F.pad(g, (shift_y, 0))
    gx = gx.view(1, 1, 1, -1).expand(c, 1, 1, gx.numel()).contiguous()
    gy = gy.view(1, 1, -1, 1).expand(c, 1, gy.numel(), 1).contiguous()
    x = F.conv2d(x, gx, stride=(1, down), groups=c)
    return F.conv2d(x, gy, stride=(down, 1), groups=c)


def _activate(x: torch.Tensor, slope: float, clamp: float | None) -> torch.Tensor:
    inplace = not (torch.is_grad_enabled() and x.requires_grad)
    if slope != 1:
        x = F.leaky_relu(x, slope, inplace=inplace)
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
    return x


def filtered_lrelu(x: torch.Tensor, up_filter: torch.Tensor | None,
                   down_filter: torch.Tensor | None, *, up: int, down: int,
                   padding: tuple[int, int, int, int], gain: float, slope: float,
                   clamp: float | None) -> torch.Tensor:
    """Up-sample, leaky ReLU (``slope``) times ``gain``, clamp to +-``clamp``, down-sample.

    ``x`` (N, C, H, W) already holds the layer's bias. The gain is folded into the up
    filter (``lrelu(g v) == g lrelu(v)`` for ``g > 0``).
    """
    px0, px1, py0, py1 = padding
    if up_filter is None or down_filter is None:
        if up != 1 or down != 1 or up_filter is not None or down_filter is not None:
            raise ValueError("resampling needs both an up and a down filter")
        x = F.pad(x, (px0, px1, py0, py1))
        return _activate(x * gain if gain != 1 else x, slope, clamp)
    if up_filter.dim() != 1:
        raise ValueError("the up filter must be separable (1-D)")
    d_taps = down_filter.shape[-1]
    py = plan_axis(x.shape[2], up, down, up_filter.numel(), d_taps, py0, py1)
    px = plan_axis(x.shape[3], up, down, up_filter.numel(), d_taps, px0, px1)
    x = F.pad(x, (px.before, px.after, py.before, py.after))
    x = x.contiguous(memory_format=CHANNELS_LAST)
    x = _upsample(x, up_filter * (up * gain), up, axis=3)
    x = _upsample(x, up_filter * up, up, axis=2)
    x = _downsample(_activate(x, slope, clamp), down_filter, down, py.shift, px.shift)
    return x[:, :, py.start:py.start + py.length, px.start:px.start + px.length]
