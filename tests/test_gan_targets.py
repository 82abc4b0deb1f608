"""The shapes GAN's reconstruction targets (scripts/shapes_gan_targets.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.functional import avg_pool2d

from dynode_shapes.world import SAMPLE_RANGES, SHAPES, edge_distance, latent_factors, render

from conftest import load_script

_targets = load_script("shapes_gan_targets")
reconstruction_loss, target_factors = _targets.reconstruction_loss, _targets.target_factors


@pytest.fixture(scope="module")
def z():
    return torch.randn(48, 16, generator=torch.Generator().manual_seed(3))


def as_image(factors):
    return render(factors) * 2 - 1


def test_bounds_target_ignores_shape_and_rotation_render_does_not(z):
    f = latent_factors(z)
    other = f.replace(shape=(f.shape + 1) % len(SHAPES), rotation=f.rotation + math.pi / 5)
    exact = as_image(f)
    assert reconstruction_loss(1.0, "bounds")(z, exact)[0] == 0
    assert reconstruction_loss(1.0, "bounds")(z, as_image(other))[0] == 0
    assert reconstruction_loss(1.0, "render")(z, exact)[0] == 0
    assert reconstruction_loss(1.0, "render")(z, as_image(other))[0] > 0.02


@pytest.mark.parametrize("name, scale, shift", [("hue", 1, 0.25), ("bg_hue", 1, 0.25), ("x", 1, 0.1),
                                               ("size", 0.5, 0), ("size", 2, 0)])
def test_bounds_target_sees_colour_position_and_size(z, name, scale, shift):
    """Size only loosely: the object must cover the incircle and stay inside the circumcircle."""
    f = latent_factors(z)
    moved = f.replace(**{name: getattr(f, name) * scale + shift})
    loss, stats = reconstruction_loss(2.0, "bounds")(z, as_image(moved))
    assert loss > 0.01 and stats["recon_l1"] > 0


def test_unknown_target_lists_the_valid_ones():
    with pytest.raises(ValueError, match="valid: bounds, lowpass, render"):
        reconstruction_loss(1.0, "outline")


def test_held_factors_sit_mid_range_and_the_rest_follow_z(z):
    f, held = latent_factors(z), target_factors(z, ("x", "y", "hue"))
    assert torch.all(held.x == 0.5) and torch.all(held.y == 0.5)
    assert torch.allclose(held.hue, torch.full_like(held.hue, sum(SAMPLE_RANGES["hue"]) / 2))
    for name in ("size", "rotation", "bg_hue", "shape"):
        assert torch.equal(getattr(held, name), getattr(f, name))
    centred = as_image(held)
    assert reconstruction_loss(1.0, "render", ("x", "y", "hue"))(z, centred)[0] == 0
    assert reconstruction_loss(1.0, "render")(z, centred)[0] > 0.02


def test_unknown_held_factor_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown factor.*: colour; valid: x, y, size"):
        reconstruction_loss(1.0, "render", ("x", "colour"))


def test_lowpass_target_forgives_how_an_edge_is_drawn_in_a_block_but_not_a_move(z):
    """Near the outline, each 4 x 4 block's pixels replaced by their mean cost nothing;
    the same blur everywhere, or a moved object, does."""
    f = latent_factors(z)
    exact = as_image(f)
    band = (edge_distance(f).abs() < 2.0).float()[:, None]

    def block_mean(x):
        return avg_pool2d(x, 4).repeat_interleave(4, 2).repeat_interleave(4, 3)

    edge_blur = exact * (1 - band) + band * block_mean(exact * band) / block_mean(band).clamp_min(1e-9)
    lowpass, render_loss = reconstruction_loss(1.0, "lowpass"), reconstruction_loss(1.0, "render")
    assert lowpass(z, exact)[0] == 0
    assert lowpass(z, edge_blur)[0] < 1e-5 < render_loss(z, edge_blur)[0]
    assert lowpass(z, block_mean(exact))[0] > 1e-3  # a blur of the flat areas too
    loss, stats = lowpass(z, as_image(f.replace(x=f.x + 0.1)))
    assert loss > 0.01 and stats["recon_l1"] > 0.01
