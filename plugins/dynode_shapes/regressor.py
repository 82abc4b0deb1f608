"""The factor regressor: a small CNN that reads the world's factors back from an image.

It reads images (N, 3, 64, 64) in [-1, 1] (what generators render; a render ``r``
in [0, 1] is ``r * 2 - 1``) and returns a :class:`Reading`:

- ``shape``: 3-way classification (:data:`~dynode_shapes.world.SHAPES`);
- ``x``, ``y``: soft-argmax over a 32 x 32 heat map plus per-cell offsets
  (translation-equivariant, sub-pixel);
- ``size``, ``shape``, rotation, ``hue``: read from a crop around the found position;
- ``rotation``: read as (cos, sin) of ``k * rotation`` (k = 4 for squares, 3 for
  triangles: the angle is only defined modulo the shape's symmetry), so it comes
  back in [0, 2 pi / k); ``phase`` = ``k * rotation / 2 pi`` in [0, 1); both NaN
  for disks;
- ``hue``, ``bg_hue``: (cos, sin) on the colour wheel, returned in [0, 1).

The bundled weights (``weights/regressor.safetensors`` + JSON, format
:data:`FORMAT`) are trained by ``scripts/train_regressor.py``;
:func:`load_regressor` / :func:`predict_factors` use them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dynode_core import DynodeError, InputError
from dynode_core import check_format, config_of, read_safetensors, write_safetensors

from .world import RESOLUTION, SYMMETRY, Factors

FORMAT = "dynode.regressor/1"
WEIGHTS = Path(__file__).resolve().parent / "weights" / "regressor.safetensors"
TAU = 2 * math.pi


@dataclass
class RegressorConfig:
    """The architecture (JSON-able)."""

    widths: tuple = (24, 48, 96, 128)
    crop_widths: tuple = (32, 48, 96, 128)
    crop: int = 40
    head: int = 32
    hidden: int = 256
    resolution: int = RESOLUTION

    def __post_init__(self):
        self.widths = tuple(int(w) for w in self.widths)
        self.crop_widths = tuple(int(w) for w in self.crop_widths)
        if len(self.widths) != 4 or len(self.crop_widths) != 4 or self.resolution != 64:
            raise ValueError("the regressor has four stages per branch and reads 64 px images")
        if self.crop % 8:
            raise ValueError(f"crop must be a multiple of 8 pixels, got {self.crop}")


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def _mlp(cin: int, hidden: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(cin, hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, cout))


#: Outputs read from the crop around the object: name -> width, in order.
OBJECT_OUTPUTS = {"shape": 3, "size": 1, "square": 2, "triangle": 2, "hue": 2}


class FactorRegressor(nn.Module):
    """Two branches. The frame branch (four strided stages: 32, 16, 8, 4 px) gives the
    position (soft-argmax of an FPN heat map at 32 px plus per-cell offsets) and the
    background hue (MLP on the 4 px features). The object branch crops ``crop`` pixels
    around the found position (bilinear, detached) and reads shape, size, rotation and
    hue from it with a second small CNN: object-centred, so translation-invariant."""

    def __init__(self, config: RegressorConfig | None = None):
        super().__init__()
        self.config = cfg = config or RegressorConfig()
        w, c = cfg.widths, cfg.crop_widths
        self.stages = nn.ModuleList([
            nn.Sequential(_block(3, w[0], 2), _block(w[0], w[0], 1)),
            nn.Sequential(_block(w[0], w[1], 2), _block(w[1], w[1], 1)),
            nn.Sequential(_block(w[1], w[2], 2), _block(w[2], w[2], 1)),
            nn.Sequential(_block(w[2], w[3], 2))])
        self.laterals = nn.ModuleList(nn.Conv2d(ch, cfg.head, 1) for ch in w)
        self.heat = nn.Conv2d(cfg.head, 3, 3, 1, 1)  # logit, dx, dy (in cells)
        self.background = _mlp(w[3] * 16, cfg.hidden, 2)
        self.object = nn.Sequential(_block(3, c[0], 1), _block(c[0], c[1], 2), _block(c[1], c[2], 2),
                                    _block(c[2], c[3], 2))
        self.object_head = _mlp(c[3] * (cfg.crop // 8) ** 2, cfg.hidden, sum(OBJECT_OUTPUTS.values()))
        cells = (torch.arange(32, dtype=torch.float32) + 0.5) / 32
        self.register_buffer("cells", cells, persistent=False)
        offsets = (torch.arange(cfg.crop, dtype=torch.float32) - (cfg.crop - 1) / 2) / cfg.resolution
        self.register_buffer("window", offsets, persistent=False)

    def locate(self, images: torch.Tensor):
        """(xy (N, 2) in frame units, background (cos, sin) (N, 2))."""
        feats, x = [], images
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        top = feats[0].shape[-2:]
        fused = sum(F.interpolate(lat(f), size=top, mode="bilinear", align_corners=False)
                    if f.shape[-2:] != top else lat(f) for lat, f in zip(self.laterals, feats))
        heat = self.heat(F.relu(fused))
        weights = heat[:, 0].flatten(1).softmax(1).view_as(heat[:, 0])
        offsets = heat[:, 1:] / 32
        px = (weights * (self.cells[None, None, :] + offsets[:, 0])).sum((1, 2))
        py = (weights * (self.cells[None, :, None] + offsets[:, 1])).sum((1, 2))
        return torch.stack([px, py], 1), self.background(feats[-1])

    def crop(self, images: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """``crop`` x ``crop`` pixels centred on ``xy`` (frame units), at the frame's pixel size."""
        gx = xy[:, 0, None] + self.window[None]  # (N, crop) in frame units
        gy = xy[:, 1, None] + self.window[None]
        grid = torch.stack([gx[:, None, :].expand(-1, len(self.window), -1),
                            gy[:, :, None].expand(-1, -1, len(self.window))], -1) * 2 - 1
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                             align_corners=False)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw outputs: ``xy`` (N, 2) in frame units, ``bg_hue`` and the :data:`OBJECT_OUTPUTS`."""
        xy, background = self.locate(images)
        patch = self.crop(images, xy.detach())
        raw = self.object_head(self.object(patch)).split(list(OBJECT_OUTPUTS.values()), 1)
        out = dict(zip(OBJECT_OUTPUTS, raw))
        out.update(xy=xy, bg_hue=background, size=out["size"][:, 0])
        return out


@dataclass(frozen=True)
class Reading:
    """Factors read from a batch of images; every field is a tensor of shape (N,)
    (``shape_probs`` (N, 3)). ``rotation`` / ``phase`` are NaN for disks."""

    shape: torch.Tensor
    shape_probs: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    size: torch.Tensor
    rotation: torch.Tensor
    phase: torch.Tensor
    hue: torch.Tensor
    bg_hue: torch.Tensor

    def factors(self) -> Factors:
        """As :class:`Factors` (rotation 0 for disks), e.g. to render what was read."""
        return Factors(shape=self.shape, x=self.x, y=self.y, size=self.size,
                       rotation=torch.nan_to_num(self.rotation, nan=0.0), hue=self.hue,
                       bg_hue=self.bg_hue)

    def as_dict(self) -> dict[str, list]:
        return {f.name: getattr(self, f.name).tolist() for f in fields(self)}


def _angle(cs: torch.Tensor) -> torch.Tensor:
    """Angle in [0, 2 pi) of (cos, sin) pairs (N, 2)."""
    return torch.remainder(torch.atan2(cs[:, 1], cs[:, 0]), TAU)


def decode(out: dict[str, torch.Tensor]) -> Reading:
    """A :class:`Reading` from the raw outputs of :meth:`FactorRegressor.forward`."""
    probs = out["shape"].softmax(1)
    shape = probs.argmax(1)
    phase = torch.full_like(out["size"], float("nan"))
    rotation = phase.clone()
    for index, key in ((1, "square"), (2, "triangle")):
        rows = shape == index
        angle = _angle(out[key][rows])
        phase[rows] = angle / TAU
        rotation[rows] = angle / SYMMETRY[index]
    return Reading(shape=shape, shape_probs=probs, x=out["xy"][:, 0], y=out["xy"][:, 1],
                   size=out["size"], rotation=rotation, phase=phase,
                   hue=_angle(out["hue"]) / TAU, bg_hue=_angle(out["bg_hue"]) / TAU)


# ----------------------------------------------------------------------- files


def save_regressor(model: FactorRegressor, path, **info) -> Path:
    """Write ``path`` (.safetensors, format + config in the header) and a ``.json`` sidecar
    holding the config and ``info`` (training run, held-out errors)."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise InputError(f"regressor save path {path} must end with .safetensors")
    state = {k: v.float() if v.dtype.is_floating_point else v
             for k, v in model.state_dict().items()}
    return write_safetensors(path, state, fmt=FORMAT, config=asdict(model.config), sidecar=info)


def read_regressor(path, device="cpu") -> FactorRegressor:
    """A regressor (eval mode, frozen) from a :func:`save_regressor` file."""
    state, meta = read_safetensors(path)
    check_format(meta, FORMAT, path, "a factor regressor")
    try:
        model = FactorRegressor(RegressorConfig(**config_of(meta)))
        model.load_state_dict(state, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise InputError(f"{path}: regressor weights do not match their config ({exc})") from None
    return model.eval().requires_grad_(False).to(device)


@functools.lru_cache(maxsize=4)
def _bundled(device: str) -> FactorRegressor:
    if not WEIGHTS.is_file():
        raise DynodeError(f"the bundled factor regressor {WEIGHTS} is missing; train it with "
                          "scripts/train_regressor.py --export")
    return read_regressor(WEIGHTS, device)


def load_regressor(device="cpu", path=None) -> FactorRegressor:
    """The bundled regressor (cached per device), or the one in ``path``."""
    return read_regressor(path, device) if path is not None else _bundled(str(torch.device(device)))


@torch.no_grad()
def predict_factors(images: torch.Tensor, regressor: FactorRegressor | None = None, *,
                    batch_size: int = 256) -> Reading:
    """Read the factors of images (N, 3, 64, 64) in [-1, 1] (default: the bundled regressor,
    on the images' device)."""
    if images.dim() != 4 or images.shape[1:] != (3, RESOLUTION, RESOLUTION):
        raise InputError(f"the factor regressor reads (N, 3, {RESOLUTION}, {RESOLUTION}) images in "
                         f"[-1, 1], got {tuple(images.shape)}")
    model = regressor if regressor is not None else load_regressor(images.device)
    device = next(model.parameters()).device
    outs = [model(chunk.to(device, torch.float32)) for chunk in images.split(batch_size)]
    return decode({k: torch.cat([o[k] for o in outs]) for k in outs[0]})
