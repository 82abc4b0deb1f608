"""StyleGAN2 residual discriminator with rosinality's state-dict layout.

Keys match rosinality/stylegan2-pytorch (``convs.1.conv2.1.weight``,
``final_linear.0.bias``, ...), so the ``d`` of its training checkpoints loads
directly; ``channels`` allows narrow custom widths for small models.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .fir import Blur
from .layers import BLUR_TAPS, BiasLeakyReLU, EqualLinear
from .model import channel_table, resolutions


class EqualConv2d(nn.Module):
    """Convolution with equalised learning rate."""

    def __init__(self, in_ch, out_ch, kernel_size, *, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size ** 2)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride,
                        padding=self.padding)


class ConvLayer(nn.Sequential):
    """[blur] conv [bias + leaky ReLU]; ``downsample`` blurs then convolves with stride 2."""

    def __init__(self, in_ch, out_ch, kernel_size, *, downsample=False, bias=True, activate=True):
        layers = []
        if downsample:
            p = len(BLUR_TAPS) - 2 + kernel_size - 1  # even for odd kernels: equal pads
            layers.append(Blur(BLUR_TAPS, pad=p // 2))
        layers.append(EqualConv2d(in_ch, out_ch, kernel_size, stride=2 if downsample else 1,
                                  padding=0 if downsample else kernel_size // 2,
                                  bias=bias and not activate))
        if activate:
            layers.append(BiasLeakyReLU(out_ch))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch):
        super().__init__()
        self.conv1 = ConvLayer(in_ch, in_ch, 3)
        self.conv2 = ConvLayer(in_ch, out_ch, 3, downsample=True)
        self.skip = ConvLayer(in_ch, out_ch, 1, downsample=True, activate=False, bias=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """Images (N, 3, size, size) in [-1, 1] -> realness logits (N, 1).

    ``channels`` maps each resolution 4..size to its width (default: rosinality's
    table with ``channel_multiplier``). The minibatch-stddev layer uses groups of
    up to 4 samples (the largest group size <= 4 that divides the batch).
    """

    def __init__(self, size: int, *, channels: dict | None = None, channel_multiplier: int = 2,
                 stddev_group: int = 4):
        super().__init__()
        res = resolutions(size)
        ch = {int(k): int(v) for k, v in (channels or channel_table(size, channel_multiplier)).items()}
        if sorted(ch) != res:
            raise ValueError(f"channels must give a width for each of {res}, got {sorted(ch)}")
        self.config = {"size": size, "channels": {str(k): v for k, v in ch.items()}}
        blocks = [ConvLayer(3, ch[size], 1)]
        for r in reversed(res[1:]):
            blocks.append(ResBlock(ch[r], ch[r // 2]))
        self.convs = nn.Sequential(*blocks)
        self.stddev_group = stddev_group
        self.final_conv = ConvLayer(ch[4] + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activate=True),
                                          EqualLinear(ch[4], 1))

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = max(g for g in range(1, min(n, self.stddev_group) + 1) if n % g == 0)
        std = torch.sqrt(x.view(group, -1, c, h, w).var(0, unbiased=False) + 1e-8)
        std = std.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, std], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.contiguous(memory_format=torch.channels_last)  # faster convolutions
        x = self.minibatch_stddev(self.convs(x))
        x = self.final_conv(x)
        return self.final_linear(x.flatten(1))
