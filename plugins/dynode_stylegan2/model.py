"""StyleGAN2 generator in pure PyTorch, with rosinality's state-dict layout.

Parameter and buffer names match rosinality/stylegan2-pytorch (``style.1.weight``,
``convs.0.conv.modulation.weight``, ``noises.noise_0``, ...), so its checkpoints
load directly. For batches of more than one, the modulated convolution modulates
the activations, runs one convolution shared by the batch and demodulates the
outputs (the maths of the per-sample grouped convolution, faster on CPU); a batch
of one folds the style into the weights. Activations are channels-last;
resampling filters are depthwise convolutions (:mod:`.fir`). The discriminator
lives in :mod:`.discriminator`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from dynode_core import Generator, InputError

from .fir import Blur, Upsample
from .labels import one_hot

SQRT2 = math.sqrt(2.0)
BLUR_TAPS = (1, 3, 3, 1)


def channel_table(size: int, channel_multiplier: int = 2) -> dict[int, int]:
    """rosinality's widths per resolution: 512 up to 32 px, then 256*m halving."""
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier,
             128: 128 * channel_multiplier, 256: 64 * channel_multiplier,
             512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return {res: table[res] for res in resolutions(size)}


def resolutions(size: int) -> list[int]:
    """4, 8, ..., size (size a power of two >= 4)."""
    log = int(math.log2(size))
    if size < 4 or 2 ** log != size:
        raise ValueError(f"size must be a power of two >= 4, got {size}")
    return [2 ** i for i in range(2, log + 1)]


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

    A batch of one folds style, demodulation and gain into the weights (cheapest);
    larger batches modulate the activations, share one convolution and demodulate
    the outputs; 1x1 convolutions use a batched matrix product with per-sample weights.
    """

    def __init__(self, in_ch, out_ch, kernel_size, style_dim, *, demodulate=True, upsample=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel_size ** 2)
        self.demodulate, self.upsample, self.padding = demodulate, upsample, kernel_size // 2
        if upsample:
            self.blur = Blur(BLUR_TAPS, pad=1, gain=4.0)

    def _conv(self, x, weight):
        if self.upsample:
            return self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2))
        return F.conv2d(x, weight, padding=self.padding)

    def forward(self, x, style, shift=None, gain: float = 1.0):
        weight, factor = self.weight[0], style * self.scale  # factor: per-sample input scaling
        if self.demodulate:
            energy = factor.square() @ torch.linalg.vector_norm(weight, dim=(2, 3)).square().t()
            out_scale = torch.rsqrt(energy + 1e-8) * gain  # (N, C_out)
        else:
            out_scale = factor.new_full((factor.shape[0], weight.shape[0]), gain)
        if weight.shape[-1] == 1:
            w = weight[None, :, :, 0, 0] * (out_scale[:, :, None] * factor[:, None, :])
            out = torch.bmm(w, x.flatten(2)).view(x.shape[0], -1, *x.shape[2:])
        elif x.shape[0] == 1:
            out = self._conv(x, weight * (out_scale[0, :, None] * factor[0])[:, :, None, None])
        else:
            out = self._conv(x * factor[:, :, None, None], weight)
            out_scale = out_scale[:, :, None, None]
            return out * out_scale if shift is None else torch.addcmul(shift, out, out_scale)
        return out if shift is None else out.add_(shift)


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
        shift = self.activate.bias.view(1, 1, 1, -1) * SQRT2
        if noise is not None:
            shift = shift + (self.noise.weight * SQRT2 * noise).permute(0, 2, 3, 1)
        x = self.conv(x, style, shift=shift.permute(0, 3, 1, 2), gain=SQRT2)
        x = F.leaky_relu(x, 0.2, inplace=True)
        return x if self.clamp is None else x.clamp(-self.clamp, self.clamp)


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


class StyleGAN2Generator(Generator):
    """StyleGAN2 (config F, skip generator): mapping z -> w, synthesis from W or W+.

    ``channels`` maps each resolution 4..size to its width (default: rosinality's
    table with ``channel_multiplier``). ``latent_avg`` is a buffer used by
    truncation and :meth:`mean_latent`. ``forward`` is :meth:`synthesize`.
    ``conv_clamp`` clamps every conv output to +-that value (NVIDIA's ``conv_clamp``);
    ``c_dim > 0`` makes the mapping class-conditional (a label embedded to ``embed_dim``
    and concatenated to z, as NVIDIA's conditional networks do).
    """

    def __init__(self, size: int, style_dim: int = 512, n_mlp: int = 8, *,
                 channels: dict | None = None, channel_multiplier: int = 2, lr_mlp: float = 0.01,
                 conv_clamp: float | None = None, c_dim: int = 0, embed_dim: int = 0):
        super().__init__()
        res = resolutions(size)
        ch = channels or channel_table(size, channel_multiplier)
        ch = {int(k): int(v) for k, v in ch.items()}
        if sorted(ch) != res:
            raise ValueError(f"channels must give a width for each of {res}, got {sorted(ch)}")
        embed_dim = (embed_dim or style_dim) if c_dim else 0
        self.resolution, self.latent_dim, self.num_ws = size, style_dim, 2 * len(res)
        self.c_dim = c_dim
        self._directions = None
        self.config = {"size": size, "style_dim": style_dim, "n_mlp": n_mlp,
                       "channels": {str(k): v for k, v in ch.items()}, "lr_mlp": lr_mlp,
                       "conv_clamp": conv_clamp, "c_dim": c_dim, "embed_dim": embed_dim}
        if c_dim:
            self.embed = EqualLinear(c_dim, embed_dim)
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim + (embed_dim if i == 0 else 0), style_dim, lr_mul=lr_mlp,
                        activate=True) for i in range(n_mlp)])
        clamp = {"clamp": conv_clamp}
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], style_dim, **clamp)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False, **clamp)
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        for prev, r in zip(res, res[1:]):
            self.convs.append(StyledConv(ch[prev], ch[r], style_dim, upsample=True, **clamp))
            self.convs.append(StyledConv(ch[r], ch[r], style_dim, **clamp))
            self.to_rgbs.append(ToRGB(ch[r], style_dim, **clamp))
        self.noises = nn.Module()
        for i in range(2 * len(res) - 1):
            r = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        self.register_buffer("latent_avg", torch.zeros(style_dim))
        # (name, module, W+ index) in execution order: the StyleSpace layers.
        layers = [("conv1", self.conv1, 0), ("to_rgb1", self.to_rgb1, 1)]
        for k, rgb in enumerate(self.to_rgbs):
            layers += [(f"convs.{2 * k}", self.convs[2 * k], 2 * k + 1),
                       (f"convs.{2 * k + 1}", self.convs[2 * k + 1], 2 * k + 2),
                       (f"to_rgbs.{k}", rgb, 2 * k + 3)]
        self.style_layer_names = [name for name, _, _ in layers]
        self._style_layers = [(module.conv.modulation, idx) for _, module, idx in layers]

    # -- latent spaces ---------------------------------------------------------------
    def synthesis_parameters(self) -> dict[str, nn.Parameter]:
        """Every parameter but the mapping network's (``style``, ``embed``)."""
        return {name: p for name, p in self.named_parameters()
                if not name.startswith(("style.", "embed."))}

    def mean_latent(self) -> torch.Tensor:
        return self.latent_avg.detach().clone()

    def mapping(self, z: torch.Tensor, truncation: float = 1.0, *, label=None) -> torch.Tensor:
        """z (N, D) -> w (N, D), truncated towards ``latent_avg``. Class-conditional
        generators (``c_dim > 0``) need ``label``: an int, N class indices or (N, c_dim)
        one-hot / soft vectors."""
        if not self.c_dim:
            if label is not None:
                raise InputError("this generator is not class-conditional: it takes no label")
            w = self.style(z)
        else:
            y = self.style[0](self.embed(one_hot(label, self.c_dim, z)))
            w = self.style[1:](torch.cat([self.style[0](z), y], dim=1))
        return w if truncation == 1.0 else torch.lerp(self.latent_avg.to(w), w, truncation)

    @torch.no_grad()
    def estimate_mean_latent(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        """Set ``latent_avg`` to the mean of ``n`` mapped z (seeded; random classes for
        class-conditional generators); returns it."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.latent_dim, generator=gen)
        labels = torch.randint(max(self.c_dim, 1), (n,), generator=gen)
        w = torch.cat([self.mapping(c.to(self.latent_avg), label=lab if self.c_dim else None)
                       for c, lab in zip(z.split(1024), labels.split(1024))])
        self.latent_avg.copy_(w.mean(0))
        return self.mean_latent()

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """W (N, D) -> W+ (N, num_ws, D); W+ passes through after a shape check."""
        if w.dim() == 2:
            return w.unsqueeze(1).expand(-1, self.num_ws, -1)
        if w.dim() == 3 and w.shape[1] == self.num_ws:
            return w
        raise ValueError(f"expected W (N, {self.latent_dim}) or W+ (N, {self.num_ws}, "
                         f"{self.latent_dim}), got {tuple(w.shape)}")

    def declare(self, *, name=None, directions=None) -> "StyleGAN2Generator":
        """Set the registered ``name`` and the provider of :meth:`named_directions`
        (``directions(self) -> dict``) of a model a plugin ships on this class."""
        self.name, self._directions = name, directions
        return self

    def named_directions(self) -> dict:
        return {} if self._directions is None else self._directions(self)

    def styles(self, w: torch.Tensor) -> list[torch.Tensor]:
        """StyleSpace: per-layer modulation outputs (N, C_in), in ``style_layer_names`` order."""
        wplus = self.broadcast(w)
        return [mod(wplus[:, idx]) for mod, idx in self._style_layers]

    def modulation_weights(self) -> list[torch.Tensor]:
        """Per-layer (C_in, D) matrices A with style = A @ w + b (``style_layer_names`` order)."""
        return [mod.effective_weight().detach() for mod, _ in self._style_layers]

    # -- synthesis ---------------------------------------------------------------------
    def _noise(self, mode: str, n: int) -> list:
        buffers = [getattr(self.noises, f"noise_{i}") for i in range(2 * len(self.to_rgbs) + 1)]
        makers = {"const": lambda: buffers,
                  "random": lambda: [torch.randn(n, 1, *b.shape[2:], device=b.device,
                                                 dtype=b.dtype) for b in buffers],
                  "none": lambda: [None] * len(buffers)}
        if mode not in makers:
            raise ValueError(f"unknown noise_mode {mode!r}; valid: {', '.join(makers)}")
        return makers[mode]()

    def synthesize(self, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        return self.synthesize_styles(self.styles(w), noise_mode)

    forward = synthesize

    def synthesize_styles(self, styles: list[torch.Tensor], noise_mode: str = "const"):
        """Render from StyleSpace vectors (as :meth:`styles` returns, possibly edited)."""
        noise = self._noise(noise_mode, styles[0].shape[0])
        x = self.input.input.expand(styles[0].shape[0], -1, -1, -1)
        x = x.contiguous(memory_format=torch.channels_last)  # faster convolutions on CPU
        x = self.conv1(x, styles[0], noise[0])
        skip = self.to_rgb1(x, styles[1])
        for k, rgb in enumerate(self.to_rgbs):
            s = styles[2 + 3 * k: 5 + 3 * k]
            x = self.convs[2 * k](x, s[0], noise[2 * k + 1])
            x = self.convs[2 * k + 1](x, s[1], noise[2 * k + 2])
            skip = rgb(x, s[2], skip)
        return skip.contiguous()
