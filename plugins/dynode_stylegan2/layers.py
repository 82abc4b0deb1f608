"""The layers of StyleGAN2's synthesis network, with rosinality's parameter names.

:class:`ModulatedConv2d` computes the per-sample modulated convolution. For batches of
more than one it modulates the activations, runs one convolution shared by the batch and
demodulates the outputs (the maths of the per-sample grouped convolution, faster on CPU);
a batch of one folds the style into the kernels when they are the smaller tensor to
scale. While the weights are fixed (rendering, inverting) the kernels are kept
channels-last with their norms, and a :class:`StyledConv`'s bias-and-noise shift is kept
for the stored noise. Activations are channels-last.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .fir import Blur, Upsample

SQRT2 = math.sqrt(2.0)
BLUR_TAPS = (1, 3, 3, 1)
#: Pixels of a map from which a batch is convolved sample by sample with folded kernels.
FOLD_BATCH = 128 * 128


def lrelu(x: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """Leaky ReLU (0.2) after an optional per-channel bias, times sqrt(2); two passes,
    using lrelu(v) * sqrt(2) == lrelu(v * sqrt(2)). ``x`` is not modified."""
    if bias is None:
        return F.leaky_relu(x * SQRT2, 0.2, inplace=True)
    shift = (bias * SQRT2).view(1, -1, *[1] * (x.dim() - 2))
    return F.leaky_relu(torch.add(shift, x, alpha=SQRT2), 0.2, inplace=True)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at run time)."""

    def __init__(self, in_dim, out_dim, *, bias_init=0.0, lr_mul=1.0, activate=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(in_dim), lr_mul, activate

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.scale

    def forward(self, x):
        out = F.linear(x * self.scale, self.weight, self.bias * self.lr_mul)
        return F.leaky_relu(out, 0.2) * SQRT2 if self.activate else out


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution: ``forward(x, style, shift, gain)`` returns
    ``conv(x, weight * style) * demod * gain + shift``, with ``style`` (N, C_in) the
    modulation output and ``shift`` broadcastable to the output (bias, noise).

    Where the kernels are smaller than a sample's activations (:meth:`_folds`: the large
    maps) each sample's style, demodulation and gain are folded into its kernels, one
    convolution per sample; elsewhere the activations are modulated around one
    convolution shared by the batch and the outputs demodulated. 1x1 convolutions use a
    batched matrix product with per-sample weights.
    """

    def __init__(self, in_ch, out_ch, kernel_size, style_dim, *, demodulate=True, upsample=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size ** 2)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel_size // 2
        if upsample:
            self.blur = Blur(BLUR_TAPS, pad=1, gain=4.0)

    def _conv(self, x, kernel):
        """Convolve with ``kernel`` as :meth:`_kernels` lays it out."""
        if self.upsample:
            return self.blur(F.conv_transpose2d(x, kernel, stride=2))
        return F.conv2d(x, kernel, padding=self.padding)

    def _kernels(self):
        """(kernel, energy): the kernels as the convolution reads them ((C_in, C_out, k, k)
        for the transposed convolution of ``upsample``, else (C_out, C_in, k, k)) and their
        (C_out, C_in) squared norms. While the weights are fixed (rendering, inverting)
        both are kept, the kernels channels-last (oneDNN's layout: no reorder per call);
        they are recomputed when gradients may flow to the weights or the weights change
        (``load_state_dict``, optimisers, in-place ops under ``torch.no_grad``; an edit
        through ``.data`` bypasses the version counter and is not seen)."""
        weight = self.weight[0]
        if torch.is_grad_enabled() and weight.requires_grad:
            kernel = weight.transpose(0, 1) if self.upsample else weight
            return kernel, torch.linalg.vector_norm(weight, dim=(2, 3)).square()
        key = (self.weight._version, self.weight.data_ptr(), weight.dtype, weight.device)
        if getattr(self, "_kept", (None,))[0] != key:
            energy = torch.linalg.vector_norm(weight.float(), dim=(2, 3)).square()
            kernel = weight.transpose(0, 1) if self.upsample else weight
            self._kept = (key, kernel.contiguous(memory_format=torch.channels_last),
                          energy.to(weight.dtype))
        return self._kept[1:]

    def forward(self, x, style, shift=None, gain: float = 1.0):
        (kernel, energy), factor = self._kernels(), style * self.scale  # input scaling
        if self.demodulate:
            out_scale = torch.rsqrt(factor.square() @ energy.t() + 1e-8) * gain  # (N, C_out)
        else:
            out_scale = factor.new_full((factor.shape[0], self.weight.shape[1]), gain)
        if kernel.shape[-1] == 1:
            return self._pointwise(x, kernel, out_scale[:, :, None] * factor[:, None, :], shift)
        if self._folds(x, out_scale.shape[1]):
            scale = out_scale[:, :, None] * factor[:, None, :]  # (N, C_out, C_in)
            if self.upsample:
                scale = scale.transpose(1, 2)
            outs = [self._conv(x[i:i + 1], kernel * scale[i, :, :, None, None])
                    for i in range(x.shape[0])]
            out = outs[0] if len(outs) == 1 else torch.cat(outs)
            return out if shift is None else out.add_(shift)
        out = self._conv(x * factor[:, :, None, None], kernel)
        out_scale = out_scale[:, :, None, None]
        return out * out_scale if shift is None else torch.addcmul(shift, out, out_scale)

    def _folds(self, x, out_channels: int) -> bool:
        """Fold style and demodulation into each sample's kernels (one convolution per
        sample) when they are the smaller tensor to scale (C_out * k * k < H * W) and,
        for a batch, the maps are large enough (from 128 x 128) that one convolution per
        sample costs no more than a shared one; else scale the activations around one
        convolution shared by the batch."""
        size, kernel_size = x.shape[2] * x.shape[3], self.weight.shape[-1]
        return out_channels * kernel_size ** 2 < size and (x.shape[0] == 1 or size >= FOLD_BATCH)

    @staticmethod
    def _pointwise(x, weight, scale, shift):
        """1x1 modulated conv as one matrix product per sample over (H*W, C_in) rows:
        no copy for channels-last activations; the output is channels-last too."""
        n, c, h, w = x.shape
        mat = weight[None, :, :, 0, 0] * scale  # (N, C_out, C_in)
        rows = x.permute(0, 2, 3, 1).reshape(n, h * w, c)
        out = torch.bmm(rows, mat.transpose(1, 2)).view(n, h, w, -1).permute(0, 3, 1, 2)
        return out if shift is None else out + shift


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))


class BiasLeakyReLU(nn.Module):
    """rosinality's ``FusedLeakyReLU``: bias, leaky ReLU, gain sqrt(2)."""

    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return lrelu(x, self.bias)


class StyledConv(nn.Module):
    """Modulated 3x3 conv, noise, bias, leaky ReLU; outputs clamped to +-``clamp`` if set."""

    def __init__(self, in_ch, out_ch, style_dim, *, upsample=False, clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = BiasLeakyReLU(out_ch)
        self.clamp = clamp

    def forward(self, x, style, noise=None):
        # lrelu(v) * sqrt(2) == lrelu(v * sqrt(2)): the gain goes into the conv's epilogue.
        # bias + noise is built as (N, H, W, C) and viewed as NCHW: a channels-last
        # tensor, so that the epilogue keeps the activations channels-last.
        x = self.conv(x, style, shift=self._shift(noise), gain=SQRT2)
        x = F.leaky_relu(x, 0.2, inplace=True)
        return x if self.clamp is None else x.clamp(-self.clamp, self.clamp)

    def _shift(self, noise):
        """(bias + noise strength * noise) * sqrt(2), built as (N, H, W, C) and viewed as
        NCHW: a channels-last tensor, so that the epilogue keeps the activations
        channels-last. The stored noise (``noise_mode="const"``) with fixed weights gives
        the same shift every call: it is kept then."""
        bias, strength = self.activate.bias, self.noise.weight
        fixed = not (torch.is_grad_enabled() and (bias.requires_grad or strength.requires_grad))
        key = (bias._version, strength._version, getattr(noise, "_version", None), bias.dtype,
               bias.device)
        kept = getattr(self, "_kept_shift", None)
        if fixed and kept is not None and kept[0] is noise and kept[1] == key:
            return kept[2]
        shift = bias.view(1, 1, 1, -1) * SQRT2
        if noise is not None:
            shift = shift + (strength * SQRT2 * noise).permute(0, 2, 3, 1)
        shift = shift.permute(0, 3, 1, 2)
        self._kept_shift = (noise, key, shift) if fixed else None
        return shift


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (clamped to +-``clamp`` if set), plus the upsampled skip."""

    def __init__(self, in_ch, style_dim, *, upsample=True, clamp=None):
        super().__init__()
        if upsample:
            self.upsample = Upsample(BLUR_TAPS)
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.clamp = clamp

    def forward(self, x, style, skip=None):
        out = self.conv(x, style, shift=self.bias)
        if self.clamp is not None:
            out = out.clamp(-self.clamp, self.clamp)
        return out if skip is None else out + self.upsample(skip)


class ConstantInput(nn.Module):
    def __init__(self, channels, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))
