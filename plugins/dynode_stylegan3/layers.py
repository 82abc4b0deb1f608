"""The parts of a StyleGAN3 generator: mapping, Fourier-feature input, synthesis layer.

Parameter and buffer names follow the state dict of NVIDIA's network pickles
(``mapping.fc0.weight``, ``synthesis.input.freqs``, ``synthesis.L3_36_512.magnitude_ema``),
so their tensors load one to one. Weights are stored as trained (equalised learning rate:
the effective weight is ``weight * gain``, applied at run time).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .filters import filtered_lrelu

SQRT2 = math.sqrt(2.0)


class Dense(nn.Module):
    """A fully connected layer with equalised learning rate: ``x @ (W * gain).T + b * lr``."""

    def __init__(self, in_dim: int, out_dim: int, *, lr: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.weight_gain, self.lr, self.activate = lr / math.sqrt(in_dim), lr, activate

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.weight_gain

    def forward(self, x):
        x = torch.addmm(self.bias * self.lr, x, self.effective_weight().t())
        return F.leaky_relu(x, 0.2) * SQRT2 if self.activate else x


class Mapping(nn.Module):
    """z -> w: z normalised to unit second moment, then ``layers`` lrelu dense layers."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr: float):
        super().__init__()
        for i in range(layers):
            self.add_module(f"fc{i}", Dense(z_dim if i == 0 else w_dim, w_dim, lr=lr,
                                            activate=True))
        self.layers = layers
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z):
        x = z * (z.square().mean(1, keepdim=True) + 1e-8).rsqrt()
        for i in range(self.layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class FourierInput(nn.Module):
    """The input: ``channels`` sinusoids on a ``size`` grid sampled at ``sampling_rate``,
    rotated and shifted by a transform from ``ws[:, 0]`` and the ``transform`` buffer
    (an inverse transform of the image), mixed by a learned matrix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float,
                 bandwidth: float):
        super().__init__()
        self.size, self.sampling_rate, self.bandwidth = size, sampling_rate, bandwidth
        self.weight = nn.Parameter(torch.zeros(channels, channels))
        self.affine = Dense(w_dim, 4)
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", torch.zeros(channels, 2))
        self.register_buffer("phases", torch.zeros(channels))

    def placement(self, w: torch.Tensor, transform: torch.Tensor | None) -> torch.Tensor:
        """(N, 3, 3): the rotation, then translation, read from ``w``, then ``transform``."""
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        rotate = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], 1).view(-1, 3, 3)
        shift = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], 1).view(-1, 3, 3)
        user = self.transform if transform is None else transform.to(t)
        return rotate @ shift @ user.expand(t.shape[0], 3, 3)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        m = self.placement(w, transform)
        phases = self.phases + (self.freqs @ m[:, :2, 2:]).squeeze(2)  # (N, C)
        freqs = self.freqs @ m[:, :2, :2]  # (N, C, 2)
        amplitude = (1 - (freqs.norm(dim=2) - self.bandwidth)
                     / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        grid = (torch.arange(self.size, device=w.device, dtype=w.dtype)
                + 0.5 - self.size / 2) / self.sampling_rate
        # sin(2 pi (fx gx + fy gy + p)), per channel on the grid: (N, H, W, C)
        along_x = grid[None, None, :, None] * freqs[:, None, None, :, 0]
        along_y = grid[None, :, None, None] * freqs[:, None, None, :, 1]
        x = torch.sin((along_x + along_y + phases[:, None, None]) * (2 * math.pi))
        mix = (self.weight / math.sqrt(self.weight.shape[0])) * amplitude[:, None, :]
        x = x.flatten(1, 2) @ mix.transpose(1, 2)  # (N, H*W, C)
        return x.view(x.shape[0], self.size, self.size, -1).permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated convolution (input gain ``magnitude_ema ** -0.5``), bias, then the filtered
    leaky ReLU: up-sample, lrelu, clamp, down-sample (ToRGB: linear, no resampling)."""

    def __init__(self, spec: dict, w_dim: int, conv_clamp: float | None):
        super().__init__()
        cin, cout, k = spec["in_channels"], spec["out_channels"], spec["conv_kernel"]
        self.torgb, self.kernel, self.clamp = bool(spec["torgb"]), k, conv_clamp
        self.up, self.down, self.padding = spec["up"], spec["down"], tuple(spec["padding"])
        self.affine = Dense(w_dim, cin)
        self.weight = nn.Parameter(torch.zeros(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.register_buffer("magnitude_ema", torch.ones(()))
        up_taps, down_taps = spec["up_taps"], spec["down_taps"]
        self.register_buffer("up_filter", torch.zeros(up_taps) if up_taps > 1 else None)
        down_shape = (down_taps, down_taps) if spec["down_radial"] else (down_taps,)
        self.register_buffer("down_filter", torch.zeros(down_shape) if down_taps > 1 else None)

    def style(self, w: torch.Tensor) -> torch.Tensor:
        return self.affine(w)

    def _conv_weights(self, styles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(per-input factor (N, C_in), per-output factor (N, C_out)) that turn the shared
        weight into this sample's modulated, demodulated weight times the input gain."""
        gain = self.magnitude_ema.rsqrt()
        weight = self.weight
        if self.torgb:
            factor = styles / math.sqrt(weight[0].numel())
            return factor * gain, factor.new_ones(factor.shape[0], weight.shape[0])
        norm = weight.square().mean(dim=(1, 2, 3)).rsqrt()  # (C_out,) pre-normalisation
        factor = styles * styles.square().mean(1, keepdim=True).rsqrt()
        energy = factor.square() @ weight.square().sum(dim=(2, 3)).t() * norm.square()
        return factor * gain, norm * (energy + 1e-8).rsqrt()

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        x = self.modulated_conv(x, self.style(w))
        if torch.is_grad_enabled() and x.requires_grad and not self.torgb:
            # Keep only the low-rate input for backward and recompute the high-rate
            # intermediates there: several times less memory when inverting or tuning.
            return checkpoint(self.activation, x, use_reentrant=False)
        return self.activation(x)

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        """The filtered leaky ReLU of the convolution's output (bias included)."""
        return filtered_lrelu(x, self.up_filter, self.down_filter, up=self.up, down=self.down,
                              padding=self.padding, gain=1.0 if self.torgb else SQRT2,
                              slope=1.0 if self.torgb else 0.2, clamp=self.clamp)

    def modulated_conv(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """The convolution (padding ``kernel - 1``: output grows by ``kernel - 1``) plus bias.

        A batch of one folds the factors into the weight; larger batches scale the inputs,
        share one convolution and scale the outputs (the same maths)."""
        into, out = self._conv_weights(styles)
        pad = self.kernel - 1
        if x.shape[0] == 1:
            weight = self.weight * (out[0, :, None] * into[0])[:, :, None, None]
            return F.conv2d(x, weight, self.bias, padding=pad)
        y = F.conv2d(x * into[:, :, None, None], self.weight, padding=pad)
        return torch.addcmul(self.bias[None, :, None, None], y, out[:, :, None, None])
