"""pSp / e4e style encoders: images in [-1, 1] to W+ codes.

One module class, :class:`StyleEncoder`, covers both official encoders (their
``state_dict`` keys and shapes are identical; ``encoder_type`` picks the forward):

- ``GradualStyleEncoder`` (pSp): every style vector is predicted on its own, from
  the coarse (``c3``), middle (``c3`` + ``latlayer1(c2)``) or fine (+ ``latlayer2(c1)``)
  feature-pyramid level;
- ``Encoder4Editing`` (e4e): style 0 is predicted once and copied to every layer,
  and the other styles add deltas to it, from the same pyramid levels.

Both add ``latent_avg``. Depth (``units`` per stage), width (a channel
multiplier), input size and output (``num_ws``, ``style_dim``) are configurable:
the official 1024 px encoders are ``EncoderConfig(encoder_type=...)`` with the
defaults, and a small 64 px encoder is the same code with other numbers.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import DEPTHS, body, input_layer, stage_widths


class EqualLinear(nn.Module):
    """The style blocks' linear map, with the equalised learning rate of e4e's
    checkpoints: the stored weight is scaled by 1/sqrt(in_dim) at run time."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.scale = 1.0 / math.sqrt(in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x * self.scale, self.weight, self.bias)


@dataclass
class EncoderConfig:
    """Everything that shapes a :class:`StyleEncoder` (JSON-able)."""

    encoder_type: str = "Encoder4Editing"
    num_ws: int = 18
    style_dim: int = 512
    input_size: int = 256
    input_nc: int = 3
    units: tuple = DEPTHS[50]
    width: float = 1.0
    se: bool = True
    coarse_ind: int = 3
    middle_ind: int = 7
    extra: dict = field(default_factory=dict)  # free-form notes (e.g. the source opts)

    def __post_init__(self):
        self.units = tuple(int(u) for u in self.units)
        if self.encoder_type not in FORWARDS:
            raise ValueError(f"unknown encoder_type {self.encoder_type!r}; "
                             f"valid: {', '.join(FORWARDS)}")
        log = int(math.log2(self.input_size)) if self.input_size > 0 else 0
        if self.input_size < 32 or 2 ** log != self.input_size:
            raise ValueError(f"input_size must be a power of two >= 32, got {self.input_size}")
        if self.num_ws < 1 or self.style_dim < 1 or self.input_nc < 1:
            raise ValueError("num_ws, style_dim and input_nc must be positive")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["units"] = list(self.units)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "EncoderConfig":
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown encoder config keys: {', '.join(sorted(unknown))}")
        return cls(**data)

    def level(self, index: int) -> int:
        """Feature-pyramid level of style ``index``: 0 coarse, 1 middle, 2 fine."""
        return 0 if index < self.coarse_ind else 1 if index < self.middle_ind else 2


class GradualStyleBlock(nn.Module):
    """Strided 3x3 convs (LeakyReLU 0.01) down to 1x1, then an equalised linear layer."""

    def __init__(self, in_ch: int, out_ch: int, spatial: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(int(math.log2(spatial))):
            layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_ch, out_ch)
        self.out_ch = out_ch

    def forward(self, x):
        return self.linear(self.convs(x).view(-1, self.out_ch))


def _upsample_add(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y


class PyramidEncoder(nn.Module):
    """IR-SE backbone + feature pyramid + style blocks (the official ``encoder.*`` keys)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        widths = stage_widths(config.width)
        self.input_layer = input_layer(config.input_nc, widths[0])
        self.body = body(config.units, widths, se=config.se)
        spatial = [config.input_size // 16, config.input_size // 8, config.input_size // 4]
        self.styles = nn.ModuleList(
            GradualStyleBlock(widths[3], config.style_dim, spatial[config.level(i)])
            for i in range(config.num_ws))
        self.latlayer1 = nn.Conv2d(widths[2], widths[3], 1)
        self.latlayer2 = nn.Conv2d(widths[1], widths[3], 1)
        ends = list(itertools.accumulate(config.units))
        self._taps = {ends[1] - 1: "c1", ends[2] - 1: "c2", ends[3] - 1: "c3"}

    def pyramid(self, x: torch.Tensor) -> list[Callable[[], torch.Tensor]]:
        """Lazy coarse, middle and fine features (a level is computed when first used)."""
        feats = {}
        x = self.input_layer(x)
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in self._taps:
                feats[self._taps[i]] = x
        cache: dict[int, torch.Tensor] = {0: feats["c3"]}

        def level(k: int) -> Callable[[], torch.Tensor]:
            def get() -> torch.Tensor:
                if k not in cache:
                    lateral = self.latlayer1(feats["c2"]) if k == 1 else self.latlayer2(feats["c1"])
                    cache[k] = _upsample_add(level(k - 1)(), lateral)
                return cache[k]
            return get

        return [level(0), level(1), level(2)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FORWARDS[self.config.encoder_type](self, self.pyramid(x))


def _gradual_style(enc: PyramidEncoder, levels) -> torch.Tensor:
    """pSp: every style from its pyramid level, independently."""
    cfg = enc.config
    return torch.stack([enc.styles[i](levels[cfg.level(i)]()) for i in range(cfg.num_ws)], dim=1)


def _e4e(enc: PyramidEncoder, levels) -> torch.Tensor:
    """e4e: style 0 broadcast to every layer, plus a delta per later layer."""
    cfg = enc.config
    w0 = enc.styles[0](levels[0]())
    deltas = [torch.zeros_like(w0)] + [enc.styles[i](levels[cfg.level(i)]())
                                       for i in range(1, cfg.num_ws)]
    return w0[:, None] + torch.stack(deltas, dim=1)


#: encoder_type -> forward strategy.
FORWARDS: dict[str, Callable] = {"GradualStyleEncoder": _gradual_style, "Encoder4Editing": _e4e}


class StyleEncoder(nn.Module):
    """An encoder with its average latent: images (N, C, H, W) in [-1, 1] -> W+ (N, num_ws, D).

    State dict: ``encoder.*`` (the official keys) and ``latent_avg`` ((num_ws, D)
    or (1, D)). Inputs of another size are resized (bilinear, antialiased) to
    ``config.input_size``, as pSp/e4e resize their inputs to 256 px.
    """

    def __init__(self, config: EncoderConfig, latent_avg: torch.Tensor | None = None):
        super().__init__()
        self.config = config
        self.encoder = PyramidEncoder(config)
        avg = torch.zeros(1, config.style_dim) if latent_avg is None else latent_avg
        self.register_buffer("latent_avg", avg.detach().float().reshape(-1, config.style_dim))
        if self.latent_avg.shape[0] not in (1, config.num_ws):
            raise ValueError(f"latent_avg must be (D,), (1, D) or ({config.num_ws}, D), "
                             f"got {tuple(latent_avg.shape)}")

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize images in [-1, 1] to the encoder's input size."""
        size = self.config.input_size
        if images.shape[-2:] != (size, size):
            images = F.interpolate(images, size=(size, size), mode="bilinear",
                                   align_corners=False, antialias=True)
        return images

    def forward(self, images: torch.Tensor, reconstruction: torch.Tensor | None = None,
                previous: torch.Tensor | None = None) -> torch.Tensor:
        """W+ codes for ``images``.

        A 3-channel encoder returns ``E(images) + latent_avg``. A 6-channel
        (ReStyle) encoder also takes the current ``reconstruction`` and returns
        ``previous + E(concat(images, reconstruction))``, ``previous`` defaulting
        to ``latent_avg`` (whose image the first pass should be given).
        """
        x = self.prepare(images)
        paired = self.config.input_nc == 2 * x.shape[1]
        if paired:
            if reconstruction is None:
                raise ValueError("this encoder takes (image, reconstruction) pairs (ReStyle)")
            x = torch.cat([x, self.prepare(reconstruction.to(x))], dim=1)
        elif x.shape[1] != self.config.input_nc:
            raise ValueError(f"encoder expects {self.config.input_nc} input channels, "
                             f"got images with {x.shape[1]}")
        start = previous if (paired and previous is not None) else self.latent_avg
        return self.encoder(x) + start
