"""Edits are continuous functions of the codes: moving the codes by 1e-5 moves the edited
codes by about as much, for every kind of direction the bundled model offers (straight and
guided), and
SVD/PCA directions have a sign that does not depend on the LAPACK build."""

from __future__ import annotations

import pytest
import torch

from dynode_core.edits import resolve_edit
from dynode_core.plugins import get_registry
from dynode_editors.vectors import sample_w

PERTURBATION = 1e-5
#: The edited codes may move at most this much (max abs) for a 1e-5 move of the codes:
#: a straight edit moves them exactly as much as the codes moved (~4e-5 at most here).
BOUND = 1e-3


@pytest.fixture(scope="module")
def shapes64():
    return get_registry().create("generators", "shapes64").eval().requires_grad_(False)


def _codes(generator, count=4):
    w = sample_w(generator, count, seed=11)
    return w.unsqueeze(1).expand(-1, generator.num_ws, -1).contiguous()


def _moved(codes):
    noise = torch.randn(codes.shape, generator=torch.Generator().manual_seed(1))
    return codes + PERTURBATION * noise


def _change(spec, generator, **options) -> float:
    edit = resolve_edit(spec, generator, **options)
    codes = _codes(generator)
    return float((edit.apply(codes) - edit.apply(_moved(codes))).abs().max())


@pytest.mark.parametrize("spec", ["sefa:0:3", "sefa:5:-2", "ganspace:0:3", "ganspace:4:-2",
                                  "supervised:x-linear:1", "supervised:y-linear:-1",
                                  "supervised:size-linear:1"])
def test_straight_edits_move_no_more_than_the_codes(shapes64, spec):
    assert _change(spec, shapes64) < BOUND


def test_a_direction_file_edit_is_continuous(shapes64, tmp_path):
    torch.save(torch.randn(shapes64.latent_dim), tmp_path / "d.pt")
    assert _change(f"file:{tmp_path / 'd.pt'}:2", shapes64) < BOUND


@pytest.mark.parametrize("name", ["hue", "bg_hue", "x", "y", "size"])
def test_guided_edits_are_continuous(shapes64, name):
    """The guided edits give each code its own offset (a network's output), and still a
    1e-5 move of the codes moves the edited codes by no more than 1e-3."""
    assert _change(f"supervised:{name}:1", shapes64) < BOUND
    assert _change(f"supervised:{name}:-1.5", shapes64) < BOUND


def test_a_guided_edit_of_strength_zero_is_the_identity(shapes64):
    codes = _codes(shapes64)
    assert torch.equal(resolve_edit("supervised:hue:0", shapes64).apply(codes), codes)


def test_pca_and_sefa_directions_have_a_fixed_sign(shapes64):
    """The largest entry (in absolute value) of every SVD/eigen direction is positive, so
    ``ganspace:0:+2`` and ``sefa:0:+2`` mean the same move with any LAPACK."""
    from dynode_editors.ganspace import fit_components
    from dynode_editors.sefa import sefa_factorize

    comp = fit_components(sample_w(shapes64, 500, seed=0), 8).comp
    _, vectors = sefa_factorize(shapes64.modulation_weights())
    for rows in (comp, vectors[:8].float()):
        peaks = rows.gather(1, rows.abs().argmax(dim=1, keepdim=True))
        assert (peaks > 0).all()
    flipped = fit_components(-sample_w(shapes64, 500, seed=0), 8).comp
    assert torch.allclose(flipped.abs(), comp.abs(), atol=1e-5)
    assert (flipped.gather(1, flipped.abs().argmax(dim=1, keepdim=True)) > 0).all()
