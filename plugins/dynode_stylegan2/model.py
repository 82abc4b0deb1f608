"""StyleGAN2 generator in pure PyTorch, with rosinality's state-dict layout.

Parameter and buffer names match rosinality/stylegan2-pytorch (``style.1.weight``,
``convs.0.conv.modulation.weight``, ``noises.noise_0``, ...), so its checkpoints
load directly. The layers (the modulated convolution and how it runs fast on CPU) are
in :mod:`.layers`; resampling filters are depthwise convolutions (:mod:`.fir`). The
discriminator lives in :mod:`.discriminator`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dynode_core import Generator, InputError

from .labels import one_hot
from .layers import BLUR_TAPS, BiasLeakyReLU, ConstantInput, EqualLinear, PixelNorm, \
    StyledConv, ToRGB

__all__ = ["BLUR_TAPS", "BiasLeakyReLU", "EqualLinear", "StyleGAN2Generator",
           "channel_table", "resolutions"]


def widen(x: torch.Tensor) -> torch.Tensor:
    """A bfloat16 / float16 result as float32 (what callers get); others unchanged."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


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


class StyleGAN2Generator(Generator):
    """StyleGAN2 (config F, skip generator): mapping z -> w, synthesis from W or W+.

    ``channels`` maps each resolution 4..size to its width (default: rosinality's
    table with ``channel_multiplier``). ``latent_avg`` is a buffer used by
    truncation and :meth:`mean_latent`. ``forward`` is :meth:`synthesize`.
    ``conv_clamp`` clamps every conv output to +-that value (NVIDIA's ``conv_clamp``);
    ``c_dim > 0`` makes the mapping class-conditional (a label embedded to ``embed_dim``
    and concatenated to z, as NVIDIA's conditional networks do). After
    ``.to(torch.bfloat16)`` it computes in bfloat16 while taking and returning float32
    codes, styles and images (``--precision bf16``).
    """

    precisions = ("fp32", "bf16")
    #: Activations' layout: channels-last convolutions are faster on CPU.
    memory_format = torch.channels_last

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
        return widen(self.latent_avg.detach().clone())

    def mapping(self, z: torch.Tensor, truncation: float = 1.0, *, label=None) -> torch.Tensor:
        """z (N, D) -> w (N, D), truncated towards ``latent_avg``. Class-conditional
        generators (``c_dim > 0``) need ``label``: an int, N class indices or (N, c_dim)
        one-hot / soft vectors."""
        z = z.to(self.latent_avg.dtype)
        if not self.c_dim:
            if label is not None:
                raise InputError("this generator is not class-conditional: it takes no label")
            w = self.style(z)
        else:
            y = self.style[0](self.embed(one_hot(label, self.c_dim, z)))
            w = self.style[1:](torch.cat([self.style[0](z), y], dim=1))
        w = w if truncation == 1.0 else torch.lerp(self.latent_avg.to(w), w, truncation)
        return widen(w)

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
        return [widen(style) for style in self._styles(w)]

    def _styles(self, w: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`styles` in the model's own dtype."""
        wplus = self.broadcast(w).to(self.latent_avg.dtype)
        return [mod(wplus[:, idx]) for mod, idx in self._style_layers]

    def modulation_weights(self) -> list[torch.Tensor]:
        """Per-layer (C_in, D) matrices A with style = A @ w + b (``style_layer_names`` order)."""
        return [widen(mod.effective_weight().detach()) for mod, _ in self._style_layers]

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
        return self.synthesize_styles(self._styles(w), noise_mode)

    forward = synthesize

    def synthesize_styles(self, styles: list[torch.Tensor], noise_mode: str = "const"):
        """Render from StyleSpace vectors (as :meth:`styles` returns, possibly edited)."""
        styles = [style.to(self.latent_avg.dtype) for style in styles]
        noise = self._noise(noise_mode, styles[0].shape[0])
        x = self.input.input.expand(styles[0].shape[0], -1, -1, -1)
        x = x.contiguous(memory_format=self.memory_format)
        x = self.conv1(x, styles[0], noise[0])
        skip = self.to_rgb1(x, styles[1])
        for k, rgb in enumerate(self.to_rgbs):
            s = styles[2 + 3 * k: 5 + 3 * k]
            x = self.convs[2 * k](x, s[0], noise[2 * k + 1])
            x = self.convs[2 * k + 1](x, s[1], noise[2 * k + 2])
            skip = rgb(x, s[2], skip)
        return widen(skip.contiguous())
