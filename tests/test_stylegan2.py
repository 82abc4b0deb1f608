"""The StyleGAN2 plugin: rosinality checkpoints reproduce the reference images,
loading is strict and safe, gradients are right, export round-trips, the CLI renders."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from conftest import fixture_path

from dynode_core.errors import InputError
from dynode_core.testing import check_generator
from dynode_stylegan2 import load_stylegan2
from dynode_stylegan2.discriminator import Discriminator
from dynode_stylegan2.loader import load_generator, save_generator
from dynode_stylegan2.model import StyleGAN2Generator

FILES = ("stylegan2_converted.pt", "stylegan2_train.pt")


@pytest.fixture(scope="module")
def expected():
    from safetensors.torch import load_file

    return load_file(str(fixture_path("stylegan2-rosinality", "expected.safetensors")))


@pytest.fixture(scope="module")
def converted():
    return load_generator(fixture_path("stylegan2-rosinality", "stylegan2_converted.pt"))


def _state(name="stylegan2_converted.pt"):
    return torch.load(fixture_path("stylegan2-rosinality", name), weights_only=True)


def _max_diff(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("name", FILES)
def test_reproduces_reference_images(name, expected):
    meta = json.loads(fixture_path("stylegan2-rosinality", "meta.json").read_text())
    g = load_generator(fixture_path("stylegan2-rosinality", name))
    assert (g.resolution, g.latent_dim, g.num_ws) == (meta["size"], meta["style_dim"],
                                                      meta["n_latent"])
    assert g.config["n_mlp"] == meta["n_mlp"]
    assert set(g.config["channels"].values()) == {meta["channel_cap"]}
    if name == "stylegan2_train.pt":  # no latent_avg in the file: estimated, then the reference's
        assert g.mean_latent_source.startswith("estimated")
        assert _max_diff(g.mean_latent(), expected["latent_avg"]) < 0.2
        g.latent_avg.copy_(expected["latent_avg"])
    else:
        assert torch.equal(g.mean_latent(), expected["latent_avg"])
    with torch.no_grad():
        w = g.mapping(expected["z"])
        assert _max_diff(w, expected["w"]) <= 1e-4
        assert _max_diff(g.synthesize(w), expected["img_z"]) <= 1e-4
        trunc = g.synthesize(g.mapping(expected["z"], truncation=0.7))
        assert _max_diff(trunc, expected["img_trunc_0.7"]) <= 1e-4
        assert _max_diff(g.synthesize(expected["wplus"]), expected["img_wplus"]) <= 1e-4
        single = g.synthesize(expected["wplus"][:1])  # batch of one: style folded into weights
        assert _max_diff(single, expected["img_wplus"][:1]) <= 1e-4


def test_estimated_mean_latent_is_seeded():
    path = fixture_path("stylegan2-rosinality", "stylegan2_train.pt")
    a, b = load_generator(path, seed=3), load_generator(path, seed=3)
    assert torch.equal(a.mean_latent(), b.mean_latent())
    assert not torch.equal(a.mean_latent(), load_generator(path, seed=4).mean_latent())


@pytest.mark.parametrize("edit, needle", [
    (lambda sd: sd.pop("convs.3.conv.modulation.weight"), "missing keys: convs.3.conv.modulation.weight"),
    (lambda sd: sd.update({"convs.0.conv.weight": torch.zeros(1, 64, 32, 3, 3)}),
     "wrong shapes: convs.0.conv.weight (1, 64, 32, 3, 3) (expected (1, 64, 64, 3, 3))"),
    (lambda sd: sd.update({"extra.weight": torch.zeros(3)}), "unexpected keys: extra.weight"),
])
def test_bad_state_dict_names_the_key(tmp_path, edit, needle):
    ckpt = _state()
    edit(ckpt["g_ema"])
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(InputError) as err:
        load_generator(tmp_path / "bad.pt")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_bare_state_dict_and_e4e_decoder_layout_load(tmp_path, converted):
    ckpt = _state()
    torch.save(ckpt["g_ema"], tmp_path / "bare.pt")
    torch.save({"state_dict": {f"decoder.{k}": v for k, v in ckpt["g_ema"].items()},
                "latent_avg": ckpt["latent_avg"].expand(8, -1), "opts": {"encoder_type": "x"}},
               tmp_path / "e4e_full.pt")
    w = converted.mapping(torch.randn(2, 64))
    for name in ("bare.pt", "e4e_full.pt"):
        g = load_generator(tmp_path / name)
        assert torch.equal(g.synthesize(w), converted.synthesize(w))
    assert torch.allclose(g.mean_latent(), converted.mean_latent(), atol=1e-6)  # (8, D) rows


class _Payload:
    """Unpickling this would create a marker directory."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickle_with_foreign_object_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload-ran"
    ckpt = _state()
    ckpt["g_ema"]["evil"] = _Payload(marker)
    torch.save(ckpt, tmp_path / "evil.pt")
    with pytest.raises(InputError, match=r"evil\.pt: refused as a StyleGAN2 checkpoint: loading it would run code \(posix\.mkdir\)"):
        load_generator(tmp_path / "evil.pt")
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Payload(marker)))  # the payload is live: plain pickle runs it
    assert marker.exists()


def test_wrong_kind_of_file_fails_in_one_line(tmp_path):
    encoder_only = {"state_dict": {"encoder.input_layer.0.weight": torch.zeros(2, 3, 3, 3)},
                    "latent_avg": torch.zeros(18, 512), "opts": {"encoder_type": "Encoder4Editing"}}
    torch.save(encoder_only, tmp_path / "e4e.pt")
    (tmp_path / "junk.pt").write_bytes(os.urandom(4096))
    torch.save({"weight": torch.zeros(3)}, tmp_path / "other.pt")
    cases = {"e4e.pt": "no generator weights", "junk.pt": "cannot read",
             "other.pt": "does not hold a StyleGAN2 generator"}
    for name, needle in cases.items():
        with pytest.raises(InputError) as err:
            load_generator(tmp_path / name)
        assert needle in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_factory_requires_checkpoint():
    with pytest.raises(InputError, match="--checkpoint is required for generator 'stylegan2'"):
        load_stylegan2()


def test_registered_and_checks_pass(converted):
    from dynode_core.plugins import get_registry

    g = get_registry().create("generators", "stylegan2", checkpoint=str(
        fixture_path("stylegan2-rosinality", "stylegan2_converted.pt")))
    assert isinstance(g, StyleGAN2Generator)
    check_generator(converted)


def test_stylespace_and_modulation_weights(converted):
    w = converted.mapping(torch.randn(3, 64))
    styles = converted.styles(w)
    assert len(styles) == len(converted.style_layer_names) == 3 * 3 + 2
    for s, a, name in zip(styles, converted.modulation_weights(), converted.style_layer_names):
        bias = converted.get_submodule(name).conv.modulation.bias
        assert torch.allclose(s, w @ a.t() + bias, atol=1e-5)
    assert torch.equal(converted.synthesize_styles(styles), converted.synthesize(w))
    with pytest.raises(ValueError, match="valid: const, random, none"):
        converted.synthesize(w, noise_mode="fixed")


def test_gradients_match_finite_differences():
    torch.manual_seed(0)
    g = StyleGAN2Generator(8, style_dim=4, n_mlp=1, channels={4: 3, 8: 2}).double()
    for p in g.parameters():  # non-trivial noise strengths and biases
        p.data.add_(0.1 * torch.randn_like(p))
    wplus = torch.randn(2, g.num_ws, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: g.synthesize(x, noise_mode="const"), (wplus,),
                                    fast_mode=True)
    g.synthesize(wplus).sum().backward()
    assert (wplus.grad.abs().sum(dim=(0, 2)) > 0).all()


def test_fir_filters_have_higher_order_gradients():
    from dynode_stylegan2.fir import blur, make_kernel, upsample2x

    kernel = make_kernel(gain=4.0).double()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    for op in (lambda t: blur(t, kernel, 1), lambda t: upsample2x(t, kernel),
               lambda t: blur(t, kernel, 2)[..., ::2, ::2]):
        assert torch.autograd.gradcheck(op, (x,), fast_mode=True)
        assert torch.autograd.gradgradcheck(op, (x,), fast_mode=True)
    assert upsample2x(x, kernel).shape[-2:] == (10, 10) and blur(x, kernel, 1).shape[-2:] == (4, 4)


def test_safetensors_round_trip(tmp_path, converted):
    path = save_generator(converted, tmp_path / "g.safetensors")
    sidecar = json.loads((tmp_path / "g.json").read_text())
    assert sidecar["format"] == "dynode.stylegan2/1" and sidecar["config"] == converted.config
    g = load_generator(path)
    w = converted.mapping(torch.randn(2, 64))
    assert torch.equal(g.synthesize(w), converted.synthesize(w))
    assert torch.equal(g.synthesize(w, noise_mode="none"), converted.synthesize(w, noise_mode="none"))
    assert torch.equal(g.mean_latent(), converted.mean_latent())


def test_discriminator_loads_train_checkpoint_and_any_batch():
    with torch.serialization.safe_globals([__import__("argparse").Namespace]):
        ckpt = torch.load(fixture_path("stylegan2-rosinality", "stylegan2_train.pt"),
                          weights_only=True)
    d = Discriminator(32, channels={4: 64, 8: 64, 16: 64, 32: 64})
    d.load_state_dict(ckpt["d"], strict=True)
    for n in (1, 6, 8):
        out = d(torch.rand(n, 3, 32, 32) * 2 - 1)
        assert out.shape == (n, 1) and torch.isfinite(out).all()
    narrow = Discriminator(16, channels={4: 8, 8: 8, 16: 4})
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    (grad,) = torch.autograd.grad(narrow(x).sum(), x, create_graph=True)  # R1 needs this
    grad.square().sum().backward()
    assert narrow.convs[0][0].weight.grad.abs().sum() > 0


def test_generate_command_writes_grid(tmp_path):
    from click.testing import CliRunner
    from PIL import Image

    from dynode_core.cli import cli

    ckpt = str(fixture_path("stylegan2-rosinality", "stylegan2_converted.pt"))
    out = tmp_path / "grid.png"
    args = ["generate", "--generator", "stylegan2", "--checkpoint", ckpt, "-n", "5",
            "--truncation", "0.7", "--seed", "0", "--device", "cpu", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (3 * 32, 2 * 32)
    info = json.loads(out.with_suffix(".json").read_text())
    assert (info["seed"], info["truncation"], info["num"]) == (0, 0.7, 5)
    assert "torch" in info["versions"]
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert CliRunner().invoke(cli, args + ["--overwrite"]).exit_code == 0


def test_loads_dynode_training_checkpoints_with_their_latent_avg(tmp_path):
    """scripts/train_shapes_gan.py stores g_ema with a latent_avg buffer inside."""
    import torch

    from dynode_stylegan2.loader import load_generator
    from dynode_stylegan2.model import StyleGAN2Generator

    model = StyleGAN2Generator(16, 8, 2, channels={4: 8, 8: 8, 16: 8})
    model.latent_avg.fill_(0.25)
    path = tmp_path / "step-0000001.pt"
    torch.save({"g_ema": model.state_dict(), "step": 1}, path)
    loaded = load_generator(path)
    assert torch.allclose(loaded.mean_latent(), torch.full((8,), 0.25))
