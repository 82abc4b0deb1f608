"""FIR filtering for StyleGAN2 resampling, as depthwise (transposed) convolutions.

StyleGAN2 resamples with a separable low-pass FIR filter ([1, 3, 3, 1] outer
product, normalised). These are the ``upfirdn2d`` cases StyleGAN2 uses,
written as one depthwise ``conv2d`` / ``conv_transpose2d`` each so that they
are fast on CPU and run unchanged on CUDA:

- :func:`blur`: filter with equal padding (after a transposed conv, before a strided conv);
- :func:`upsample2x`: zero-insertion upsampling by 2 then filtering (``ToRGB`` skips).

Downsampling (discriminator) is :func:`blur` followed by a stride-2 convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def make_kernel(taps=(1, 3, 3, 1), gain: float = 1.0) -> torch.Tensor:
    """The 2-D filter: outer product of ``taps``, summing to ``gain``."""
    k = torch.as_tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None] if k.dim() == 1 else k
    return k / k.sum() * gain


def _depthwise(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The kernel as a (C, 1, kh, kw) depthwise weight in ``x``'s dtype/device."""
    return kernel.to(x).expand(x.shape[1], 1, *kernel.shape)


class _FixedDepthwise(torch.autograd.Function):
    """Depthwise conv (or transposed conv) with a constant kernel; its backward is the
    adjoint operation, again a ``_FixedDepthwise``. Gradients of any order (R1 and
    path-length penalties) thus avoid PyTorch's per-channel loop for the weight
    gradient of grouped convolutions, which the kernel does not need."""

    @staticmethod
    def forward(ctx, x, weight, transposed: bool, stride: int, padding: int, out_pad: int = 0):
        ctx.save_for_backward(weight)
        ctx.args = (transposed, stride, padding, x.shape[-1])
        if transposed:
            return F.conv_transpose2d(x, weight, stride=stride, padding=padding,
                                      output_padding=out_pad, groups=x.shape[1])
        return F.conv2d(x, weight, stride=stride, padding=padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        (weight,) = ctx.saved_tensors
        transposed, stride, padding, size = ctx.args
        out_pad = 0 if transposed else size - ((grad.shape[-1] - 1) * stride - 2 * padding
                                               + weight.shape[-1])
        grad_x = _FixedDepthwise.apply(grad, weight, not transposed, stride, padding, out_pad)
        return grad_x, None, None, None, None, None


def blur(x: torch.Tensor, kernel: torch.Tensor, pad: int) -> torch.Tensor:
    """``upfirdn2d(x, kernel, pad=(pad, pad))``: pad both sides of both axes, then convolve."""
    return _FixedDepthwise.apply(x, _depthwise(kernel.flip(0, 1), x), False, 1, pad)


def upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``upfirdn2d(x, kernel, up=2, pad=(p0, p1))`` with the padding that doubles the size.

    Zero insertion + padding + convolution equals a stride-2 transposed
    convolution with the (unflipped) kernel; ``kernel`` carries the gain
    (4 for the usual filter) that keeps the mean of the signal.
    """
    k = kernel.shape[-1]
    pad0 = (k - 2 + 1) // 2 + 1  # upfirdn2d's leading pad for up=2 (trailing: (k - 2) // 2)
    return _FixedDepthwise.apply(x, _depthwise(kernel, x), True, 2, k - 1 - pad0)


class Blur(torch.nn.Module):
    """:func:`blur` with a stored kernel (state-dict key ``kernel``, as rosinality names it)."""

    def __init__(self, taps=(1, 3, 3, 1), pad: int = 1, gain: float = 1.0):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps, gain))
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur(x, self.kernel, self.pad)


class Upsample(torch.nn.Module):
    """:func:`upsample2x` with a stored kernel (gain 4 keeps the signal's mean)."""

    def __init__(self, taps=(1, 3, 3, 1)):
        super().__init__()
        self.register_buffer("kernel", make_kernel(taps, gain=4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2x(x, self.kernel)
