"""The named edit directions shipped with shapes64: what they offer, that strength 1.0
moves the factor by the stated amount, and that they never apply to other weights."""

from __future__ import annotations

import json

import pytest
import torch

from dynode_shapes.bench.edit import named_strength
from dynode_core.edits import resolve_edit
from dynode_core.plugins import get_registry
from dynode_editors.vectors import sample_w
from dynode_shapes import models
from dynode_shapes.directions import AMOUNTS, load_directions, weights_sha256
from dynode_shapes.world import Factors

from conftest import load_script

FIT = load_script("shapes_fit_directions")  # training tooling: scripts/

NAMES = {"x", "y", "size", "hue", "bg_hue", "x-linear", "y-linear", "size-linear"}


@pytest.fixture(scope="module")
def shapes64():
    return get_registry().create("generators", "shapes64").eval().requires_grad_(False)


def test_shapes64_offers_named_calibrated_directions(shapes64):
    found = get_registry().create("editors", "supervised").directions(shapes64)
    assert set(found) == NAMES
    record = json.loads(models.DIRECTIONS.with_suffix(".json").read_text())
    assert record["generator_sha256"] == weights_sha256(models.GENERATOR_WEIGHTS)
    for name, direction in found.items():
        assert direction.amount == AMOUNTS[direction.factor]
        assert direction.vector.shape == (shapes64.latent_dim,)
        assert torch.isfinite(direction.vector).all()
        assert f"{direction.amount:g}" in direction.description
        info = record["directions"][name]
        if info["kind"] == "guided":  # measured on held-out samples when fitted
            assert info["measured_mean"] == pytest.approx(direction.amount, rel=0.15), name


def test_guided_hue_edit_turns_the_hue_and_keeps_the_rest(shapes64):
    codes = sample_w(shapes64, 3, seed=11).unsqueeze(1).expand(-1, shapes64.num_ws, -1)
    edit = resolve_edit("supervised:hue:1", shapes64)
    edited = edit.apply(codes)
    assert edited.shape == codes.shape
    read = FIT.Reader(shapes64)
    before, after = read(codes), read(edited)
    turned = FIT._change("hue", after["hue"], before["hue"])
    assert turned.mean() == pytest.approx(0.25, abs=0.06)
    for factor in ("x", "y"):
        assert float((after[factor] - before[factor]).abs().max()) * 64 < 2.0
    half = resolve_edit("supervised:hue:-0.5", shapes64).apply(codes)
    assert FIT._change("hue", read(half)["hue"], before["hue"]).mean() == pytest.approx(-0.125, abs=0.05)


def test_linear_direction_is_a_straight_calibrated_move(shapes64):
    edit = resolve_edit("supervised:x-linear:2", shapes64)
    codes = sample_w(shapes64, 2, seed=3).unsqueeze(1).expand(-1, shapes64.num_ws, -1)
    moved = edit.apply(codes) - codes
    direction = edit.direction
    assert direction.transform is None and direction.scale > 0
    assert torch.allclose(moved, 2 * direction.scale * direction.vector.expand_as(moved), atol=1e-5)


def test_directions_fitted_on_other_weights_are_not_offered(shapes64, tmp_path):
    other = tmp_path / "other.safetensors"
    other.write_bytes(models.GENERATOR_WEIGHTS.read_bytes() + b" ")
    assert load_directions(models.DIRECTIONS, shapes64, other) == {}
    assert set(load_directions(models.DIRECTIONS, shapes64, models.GENERATOR_WEIGHTS)) == NAMES
    from_checkpoint = models.load_shapes64(checkpoint=models.GENERATOR_WEIGHTS)
    assert from_checkpoint.named_directions() == {}  # the Generator default: none


def test_guided_network_trained_on_other_weights_is_not_offered(shapes64, tmp_path):
    """The directions name their guided network; one trained for other generator weights
    (or missing) hides the directions rather than editing with the wrong network."""
    import shutil

    from dynode_shapes.edit_network import load_network, save_network

    for suffix in (".safetensors", ".json"):
        shutil.copy(models.DIRECTIONS.with_suffix(suffix), tmp_path)
    directions = tmp_path / models.DIRECTIONS.name
    assert load_directions(directions, shapes64, models.GENERATOR_WEIGHTS) == {}  # missing
    network, record = load_network(models.GUIDED_NETWORK)
    info = {k: v for k, v in record.items() if k != "config"}
    save_network(network, tmp_path / models.GUIDED_NETWORK.name,
                 **{**info, "generator_sha256": "0" * 64})
    assert load_directions(directions, shapes64, models.GENERATOR_WEIGHTS) == {}
    save_network(network, tmp_path / models.GUIDED_NETWORK.name, **info)
    assert set(load_directions(directions, shapes64, models.GENERATOR_WEIGHTS)) == NAMES


def test_named_strength_reaches_the_world_edit():
    def factors(size, hue):
        return Factors.make(shape=0, x=0.5, y=0.5, size=size, hue=hue, n=1)

    size = _direction("size", 0.05)
    assert named_strength(size, factors(0.1, 0.0), factors(0.13, 0.0)) == pytest.approx(0.6)
    hue = _direction("hue", 0.25)
    assert named_strength(hue, factors(0.1, 0.9), factors(0.1, 0.15)) == pytest.approx(1.0)


def _direction(factor, amount):
    from dynode_shapes.directions import FactorDirection

    return FactorDirection(factor, torch.ones(4), factor=factor, amount=amount)


def test_named_direction_without_a_generator_says_to_pass_one():
    from dynode_core.errors import InputError

    with pytest.raises(InputError, match="needs a generator: pass --generator"):
        resolve_edit("supervised:hue:1", None, latent_shape=(10, 128))


def test_guided_edit_training_resumes_and_exports_a_network_that_edits(tmp_path):
    """``scripts/train_guided_edits.py``: a run stopped at step 2 (no export yet) and resumed
    to 3 gives the same network as 3 steps at once; the export loads and edits codes."""
    from dynode_shapes.edit_network import load_network
    from dynode_shapes.guided import GuidedEdit

    train = load_script("train_guided_edits")
    tiny = ["--pool", "8", "--batch", "5", "--hidden", "8", "--ckpt-every", "1"]
    train.main(["--out", str(tmp_path / "a"), "--steps", "3", "--stop-at", "2", *tiny,
                "--export", str(tmp_path / "a.safetensors")])
    assert not (tmp_path / "a.safetensors").exists()  # exported only when finished
    train.main(["--out", str(tmp_path / "a"), "--steps", "3", *tiny,
                "--export", str(tmp_path / "a.safetensors")])
    train.main(["--out", str(tmp_path / "b"), "--steps", "3", *tiny,
                "--export", str(tmp_path / "b.safetensors")])
    (a, record), (b, _) = (load_network(tmp_path / f"{n}.safetensors") for n in "ab")
    assert record["steps"] == 3 and record["generator_sha256"] == weights_sha256(
        models.GENERATOR_WEIGHTS)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    generator = get_registry().create("generators", "shapes64").eval()
    codes = sample_w(generator, 2, seed=1).unsqueeze(1).expand(-1, generator.num_ws, -1)
    edited = GuidedEdit(a, generator, "hue", 0.25)(codes, 1.0)
    assert edited.shape == codes.shape and not torch.equal(edited, codes)
