"""The `shapes` world: one anti-aliased disk, square or triangle on a hue gradient.

A frame is a deterministic function of its factors (:class:`Factors`):

========== ================================================================
shape      0 disk, 1 square, 2 triangle (equilateral); see :data:`SHAPES`
x, y       centre, as a fraction of the frame width/height (0 = left/top
           edge, 1 = right/bottom edge; pixel centres sit at (i + 0.5) / res)
size       radius of the disk with the same area, as a fraction of the frame
           width (square half-side = size * sqrt(pi) / 2, triangle
           circumradius = size * sqrt(4 pi / (3 sqrt 3)))
rotation   radians, counter-clockwise on screen (a square repeats every
           pi/2, a triangle every 2 pi/3, a disk ignores it)
hue        object hue in [0, 1) of the colour wheel (periodic)
bg_hue     background hue at the frame's vertical centre (periodic); the
           background hue drifts by +/- :data:`BG_GRADIENT` / 2 from top to bottom
========== ================================================================

Saturation and value are fixed (object :data:`OBJECT_SV`, background
:data:`BACKGROUND_SV`), so hue is well defined. Edges are anti-aliased from a
signed distance in pixels (linear coverage over one pixel), so images are
continuous in every continuous factor. :func:`render` is batched and runs on
any device; :func:`sample_factors` draws i.i.d. factors for training data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch

#: Shape names by index of the ``shape`` factor.
SHAPES = ("disk", "square", "triangle")
#: Continuous factors, in the column order of :meth:`Factors.continuous`.
CONTINUOUS = ("x", "y", "size", "rotation", "hue", "bg_hue")
#: Fixed (saturation, value) of the object and of the background.
OBJECT_SV = (0.85, 0.95)
BACKGROUND_SV = (0.35, 0.55)
#: Background hue change from the top edge to the bottom edge.
BG_GRADIENT = 0.08
#: Default image size in pixels.
RESOLUTION = 64

#: Ranges (low, high) of :func:`sample_factors`, uniform in each.
SAMPLE_RANGES = {
    "x": (0.2, 0.8),
    "y": (0.2, 0.8),
    "size": (0.08, 0.18),
    "rotation": (0.0, 2 * math.pi),
    "hue": (0.0, 1.0),
    "bg_hue": (0.0, 1.0),
}

#: Rotational symmetry order of each shape (0: a disk looks the same at every rotation).
SYMMETRY = (0, 4, 3)

_SQUARE_HALF_SIDE = math.sqrt(math.pi) / 2
_TRIANGLE_CIRCUMRADIUS = math.sqrt(4 * math.pi / (3 * math.sqrt(3)))


@dataclass(frozen=True)
class Factors:
    """A batch of factors: every field is a tensor of shape (N,).

    ``shape`` is an integer tensor, the others floating point (see the module
    docstring for units).
    """

    shape: torch.Tensor
    x: torch.Tensor
    y: torch.Tensor
    size: torch.Tensor
    rotation: torch.Tensor
    hue: torch.Tensor
    bg_hue: torch.Tensor

    @classmethod
    def make(cls, *, shape, x, y, size, rotation=0.0, hue=0.0, bg_hue=0.5, n=None,
             device=None, dtype=torch.float32) -> "Factors":
        """Build factors from scalars or tensors, broadcast to a common length."""
        values = {"x": x, "y": y, "size": size, "rotation": rotation, "hue": hue, "bg_hue": bg_hue}
        if isinstance(shape, str):
            shape = shape_index(shape)
        tensors = {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in values.items()}
        shape_t = torch.as_tensor(shape, dtype=torch.long, device=device)
        sizes = [t.numel() for t in (*tensors.values(), shape_t) if t.dim() > 0]
        length = n if n is not None else max(sizes, default=1)
        out = {k: t.reshape(-1).expand(length).clone() for k, t in tensors.items()}
        return cls(shape=shape_t.reshape(-1).expand(length).clone(), **out)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, index) -> "Factors":
        return Factors(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def replace(self, **changes) -> "Factors":
        return replace(self, **changes)

    def to(self, device) -> "Factors":
        return Factors(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def continuous(self) -> torch.Tensor:
        """The continuous factors as one (N, 6) tensor, columns :data:`CONTINUOUS`."""
        return torch.stack([getattr(self, name) for name in CONTINUOUS], dim=1)

    @staticmethod
    def cat(parts: list["Factors"]) -> "Factors":
        return Factors(**{f.name: torch.cat([getattr(p, f.name) for p in parts])
                          for f in fields(Factors)})


def shape_index(name: str) -> int:
    """Index of a shape name; errors list the valid names."""
    try:
        return SHAPES.index(name)
    except ValueError:
        from dynode_core import InputError

        raise InputError(f"unknown shape {name!r}; valid shapes: {', '.join(SHAPES)}") from None


def hsv_to_rgb(h: torch.Tensor, s: float, v: float) -> torch.Tensor:
    """RGB in [0, 1] (stacked on a new last axis) of hues ``h`` (any shape, periodic)."""
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = torch.remainder(n + 6.0 * h, 6.0)
        ramp = torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)
        channels.append(v - v * s * ramp)
    return torch.stack(channels, dim=-1)


def _disk(u, w, dx, dy, size):
    return torch.sqrt(dx * dx + dy * dy) - size


def _square(u, w, dx, dy, size):
    return torch.maximum(u.abs(), w.abs()) - size * _SQUARE_HALF_SIDE


def _triangle(u, w, dx, dy, size):
    # Outward edge normals (0, 1) (down on screen: a flat base) and (+-sqrt(3)/2, -1/2):
    # the apex points up at rotation 0.
    side = 0.8660254 * u.abs() - 0.5 * w
    return torch.maximum(w, side) - size * (_TRIANGLE_CIRCUMRADIUS / 2)


#: Signed distance functions by shape index.
_DISTANCES = (_disk, _square, _triangle)


def _signed_distance(f: Factors, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Signed distance (frame-width units, negative inside) of pixels (N, H, W).

    Square and triangle use the maximum over their edges' half-plane distances:
    exact along the edges, with sharp (not rounded) level sets at corners.
    """
    out = torch.empty(len(f), *px.shape[-2:], device=px.device)
    for index, distance in enumerate(_DISTANCES):
        rows = (f.shape == index).nonzero().squeeze(1)
        if rows.numel() == 0:
            continue
        g = f[rows]
        dx = px - g.x[:, None, None]
        dy = py - g.y[:, None, None]
        cos, sin = torch.cos(g.rotation)[:, None, None], torch.sin(g.rotation)[:, None, None]
        # Object frame: rotate by -rotation; screen y points down, so counter-clockwise
        # on screen is a negative angle in (x, y) pixel coordinates.
        u = cos * dx - sin * dy
        w = sin * dx + cos * dy
        out[rows] = distance(u, w, dx, dy, g.size[:, None, None])
    return out


def render(factors: Factors, resolution: int = RESOLUTION, *, device=None,
           batch_size: int = 1024) -> torch.Tensor:
    """Images (N, 3, res, res) float32 in [0, 1], deterministic in the factors.

    Rendered in chunks of ``batch_size`` on ``device`` (default: the factors'
    device). Use :func:`to_uint8` / ``img * 2 - 1`` for other ranges.
    """
    device = torch.device(device) if device is not None else factors.x.device
    factors = factors.to(device)
    coords = (torch.arange(resolution, device=device, dtype=torch.float32) + 0.5) / resolution
    out = []
    for start in range(0, len(factors), batch_size):
        f = factors[start:start + batch_size]
        coverage = object_mask(f, resolution)[..., None]
        obj = hsv_to_rgb(f.hue, *OBJECT_SV)[:, None, None, :]
        bg_h = f.bg_hue[:, None] + BG_GRADIENT * (coords[None] - 0.5)
        bg = hsv_to_rgb(bg_h, *BACKGROUND_SV)[:, :, None, :]  # (N, H, 1, 3): rows only
        image = coverage * obj + (1.0 - coverage) * bg
        out.append(image.permute(0, 3, 1, 2))
    if not out:
        return torch.zeros(0, 3, resolution, resolution, device=device)
    return torch.cat(out).contiguous()


def edge_distance(factors: Factors, resolution: int = RESOLUTION) -> torch.Tensor:
    """Signed distance (N, res, res) in pixels from each pixel centre to the object's
    outline: negative inside, positive outside."""
    coords = (torch.arange(resolution, device=factors.x.device, dtype=torch.float32) + 0.5) / resolution
    py, px = torch.meshgrid(coords, coords, indexing="ij")
    return _signed_distance(factors, px[None], py[None]) * resolution


def object_mask(factors: Factors, resolution: int = RESOLUTION) -> torch.Tensor:
    """Anti-aliased object coverage (N, res, res) in [0, 1]."""
    return torch.clamp(0.5 - edge_distance(factors, resolution), 0.0, 1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) floats in [0, 1] -> (N, H, W, 3) uint8 on the CPU, for video writers."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


def sample_factors(n: int, *, generator: torch.Generator | None = None, device=None,
                   shapes: tuple[int, ...] = (0, 1, 2)) -> Factors:
    """``n`` i.i.d. factors: shape uniform over ``shapes``, the rest uniform in
    :data:`SAMPLE_RANGES`. Seed through ``generator`` (a CPU ``torch.Generator``)."""
    shape_ids = torch.as_tensor(shapes, dtype=torch.long)
    pick = torch.randint(len(shapes), (n,), generator=generator)
    values = {}
    for name in CONTINUOUS:
        low, high = SAMPLE_RANGES[name]
        values[name] = low + (high - low) * torch.rand(n, generator=generator)
    f = Factors(shape=shape_ids[pick], **values)
    return f.to(device) if device is not None else f


def latent_factors(z: torch.Tensor) -> Factors:
    """The factors a standard-normal latent ``z`` (N, >= 10) stands for, rendering like
    :func:`sample_factors` draws them: the normal CDF of columns 0-2 picks x, y and size
    uniformly in their ranges, the angles of the column pairs (5, 6) and (7, 8) (uniform for
    a normal pair, and smooth in z) are the hue and background hue, and column 9's CDF picks
    the shape by thirds. The angle of pair (3, 4) turns the shape through one period of its
    symmetry (a quarter turn for a square, a third for a triangle: every pose once), so the
    pose moves once round as the pair does; a full turn would make it move k times, which a
    fit cannot reach from the pair's first harmonic. The shapes GAN's ``--recon`` loss ties
    its generator to this."""
    z = z.float()
    cdf = 0.5 * (1 + torch.erf(z[:, [0, 1, 2, 9]] / math.sqrt(2)))
    turns = torch.remainder(torch.atan2(z[:, [4, 6, 8]], z[:, [3, 5, 7]]) / (2 * math.pi), 1.0)
    u = torch.cat([cdf[:, :3], turns], dim=1)  # uniform in [0, 1), columns CONTINUOUS
    values = {name: low + (high - low) * u[:, i]
              for i, (name, (low, high)) in enumerate((n, SAMPLE_RANGES[n]) for n in CONTINUOUS)}
    shape = torch.clamp((cdf[:, 3] * len(SHAPES)).long(), max=len(SHAPES) - 1)
    period = torch.tensor([max(k, 1) for k in SYMMETRY], device=z.device)[shape]
    values["rotation"] = values["rotation"] / period
    return Factors(shape=shape, **values)
