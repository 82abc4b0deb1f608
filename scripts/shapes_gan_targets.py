"""Reconstruction losses that tie a shapes GAN's ``G(z)`` to the world's render of
:func:`~dynode_shapes.world.latent_factors` ``(z)`` (``scripts/train_shapes_gan.py --recon``).

Three targets, by name in :data:`RECON_TARGETS`:

``render``  L1 against the exact render, the object's pixels weighted up and the pixels
            where it differs from its equal-area disk weighted up further;
``lowpass`` the same, but within 2 px of the object's outline only 4 x 4 block means
            are compared (both images and the weights averaged): place, size, colour,
            shape and pose still count, but how the edge is drawn inside a block does
            not, so an L1-optimal blur of an uncertain pose costs nothing over a crisp
            edge and the adversarial loss chooses between them; flat areas away from
            the edge stay matched pixel by pixel (no texture creeps in);
``bounds``  L1 only where every shape and rotation agree: inside the disk every shape
            contains (the triangle's incircle, 0.78 x size) the object's colour, outside
            the disk that contains every shape (its circumcircle, 1.56 x size) the
            background. The ring between is left to the adversarial loss, so the target
            says nothing about shape or rotation.

``hold`` names continuous factors to hold at the middle of their sampling range in the
target (a curriculum stage: e.g. centred objects of one size and colour, so that the fit
spends itself on shape and rotation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.functional import avg_pool2d

from dynode_shapes.world import (CONTINUOUS, RESOLUTION, SAMPLE_RANGES, _TRIANGLE_CIRCUMRADIUS, Factors,
                    edge_distance, latent_factors, object_mask, render)

#: Extra weight of the object's pixels (the object covers ~5 % of a frame; unweighted, an
#: L1 fit learns the background long before the object).
OBJECT_WEIGHT = 10.0
#: ``render``: extra weight where the object differs from the disk of equal area (corners
#: and sides: where shape and rotation show; without it the fit settles on that disk).
OUTLINE_WEIGHT = 30.0
#: ``bounds``: radii, in units of ``size``, of the disk inside every shape and of the disk
#: around every shape (the triangle's in- and circumradius; the square's lie between).
INNER_RADIUS, OUTER_RADIUS = _TRIANGLE_CIRCUMRADIUS / 2, _TRIANGLE_CIRCUMRADIUS
#: ``bounds``: margin (pixels) kept free of the loss on each side of the ring, for anti-aliasing.
MARGIN_PX = 1.0

Weights = Callable[[Factors], torch.Tensor]


def _disk(f: Factors, scale: float = 1.0, grow_px: float = 0.0) -> Factors:
    return f.replace(shape=torch.zeros_like(f.shape), size=f.size * scale + grow_px / RESOLUTION)


def render_weights(f: Factors) -> torch.Tensor:
    mask = object_mask(f)
    return 1 + OBJECT_WEIGHT * mask + OUTLINE_WEIGHT * (mask - object_mask(_disk(f))).abs()


def bounds_weights(f: Factors) -> torch.Tensor:
    inside = object_mask(_disk(f, INNER_RADIUS, -MARGIN_PX)) == 1
    outside = object_mask(_disk(f, OUTER_RADIUS, MARGIN_PX)) == 0
    return OBJECT_WEIGHT * inside + outside.float()


@dataclass(frozen=True)
class Target:
    """Per-pixel weights (N, H, W) of the L1 against the render of the factors; pixels
    within ``band_px`` of the object's outline are compared only as ``pool`` x ``pool``
    block means (both images and the weights averaged)."""

    weights: Weights
    pool: int = 1
    band_px: float = 0.0


#: Reconstruction targets by name (``bounds`` weighs only the pixels where the render agrees
#: with every shape and rotation; ``lowpass`` compares 4 x 4 block means).
RECON_TARGETS: dict[str, Target] = {"render": Target(render_weights),
                                    "lowpass": Target(render_weights, pool=4, band_px=2.0),
                                    "bounds": Target(bounds_weights)}


def check_held(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` if each is a continuous factor, else ValueError listing the valid ones."""
    unknown = [n for n in names if n not in CONTINUOUS]
    if unknown:
        raise ValueError(f"unknown factor(s) to hold: {', '.join(unknown)}; valid: "
                         f"{', '.join(CONTINUOUS)}")
    return tuple(names)


def _held(z: torch.Tensor, hold: tuple[str, ...]) -> Factors:
    f = latent_factors(z)
    return f.replace(**{n: torch.full_like(getattr(f, n), sum(SAMPLE_RANGES[n]) / 2)
                        for n in hold})


def target_factors(z: torch.Tensor, hold: tuple[str, ...] = ()) -> Factors:
    """:func:`latent_factors` ``(z)`` with the ``hold`` factors at their range's middle."""
    return _held(z, check_held(hold))


def reconstruction_loss(weight: float, target: str = "render", hold: tuple[str, ...] = ()):
    """The ``--recon`` loss ``(z, fake) -> (loss, stats)`` for ``g_step``'s extra-loss hook:
    ``weight`` x the weighted mean L1 between ``fake`` and the target's render."""
    if target not in RECON_TARGETS:
        raise ValueError(f"unknown reconstruction target {target!r}; valid: "
                         f"{', '.join(sorted(RECON_TARGETS))}")
    spec, hold = RECON_TARGETS[target], check_held(hold)

    def loss(z, fake):
        factors = _held(z, hold)  # checked once, above
        error = fake - render(factors) * 2 + 1  # factors on z's (= fake's) device
        pixel = spec.weights(factors)[:, None]
        stats = {"recon_l1": error.abs().mean().item()}  # full resolution, for every target
        if spec.band_px <= 0:
            return weight * (error.abs() * pixel).mean() / pixel.mean(), stats
        band = (edge_distance(factors).abs() < spec.band_px).float()[:, None]
        exact = (error.abs() * pixel * (1 - band)).sum()
        blocks = (avg_pool2d(error * band, spec.pool).abs() * avg_pool2d(pixel * band, spec.pool)
                  ).sum() * spec.pool ** 2
        return weight * (exact + blocks) / pixel.sum(), stats
    return loss
