"""The NVIDIA fixture pickle reproduces its reference through the Python API, ``dynode render``
and ``dynode generate``; ``dynode convert`` writes safetensors that reproduce the same images."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import REPO, fixture_path, run_dynode
from PIL import Image

from dynode_core import get_registry
from dynode_core.render import to_uint8
from dynode_stylegan2.loader import load_generator
from dynode_core.formats import PickledModule, load_network

TOL = 1e-4


def pkl():
    return fixture_path("stylegan2-nvidia", "network-snapshot.pkl")


@pytest.fixture(scope="module")
def expected():
    from safetensors.torch import load_file

    return load_file(str(fixture_path("stylegan2-nvidia", "expected.safetensors")))


def max_diff(a, b):
    return (a - b).abs().max().item()


def check_reproduces(g, expected):
    """mapping ws, truncation 0.7 and the const-noise images, to TOL."""
    with torch.no_grad():
        assert max_diff(g.broadcast(g.mapping(expected["z"])), expected["ws"]) <= TOL
        trunc = g.mapping(expected["z"], truncation=0.7)
        assert max_diff(g.broadcast(trunc), expected["ws_trunc_0.7"]) <= TOL
        assert max_diff(g.synthesize(expected["ws"]), expected["img_const"]) <= TOL
        assert max_diff(g.synthesize(trunc), expected["img_trunc_0.7"]) <= TOL
        assert max_diff(g.synthesize(expected["ws"][:1]), expected["img_const"][:1]) <= TOL


def test_pickle_reproduces_reference_through_the_registry(expected):
    meta = json.loads(fixture_path("stylegan2-nvidia", "meta.json").read_text())
    g = get_registry().create("generators", "stylegan2", checkpoint=str(pkl()), device="cpu")
    assert (g.resolution, g.latent_dim, g.num_ws) == (meta["res"], meta["w_dim"], meta["num_ws"])
    assert g.config["n_mlp"] == meta["mapping_layers"] and g.config["conv_clamp"] == 256
    assert set(g.config["channels"].values()) == {meta["channel_max"]}
    assert g.mean_latent_source == "checkpoint"
    check_reproduces(g, expected)


def test_network_choice_and_discriminator(expected):
    check_reproduces(load_generator(pkl(), network="G"), expected)  # G == G_ema in this file
    d = load_network(pkl(), "D")
    assert isinstance(d, PickledModule) and d.class_name == "Discriminator"
    assert d.init_kwargs["conv_clamp"] == 256 and d.init_kwargs["img_resolution"] == 32
    assert all(isinstance(v, torch.Tensor) for v in d.state_dict().values())
    assert "b32.fromrgb.weight" in d.state_dict()


def test_render_and_generate_commands(tmp_path, expected):
    from safetensors.torch import save_file

    codes = tmp_path / "ws.safetensors"
    save_file({"latents": expected["ws"]}, str(codes))
    proc = run_dynode("render", str(codes), "--generator", "stylegan2", "--checkpoint",
                      str(pkl()), "--device", "cpu", "--out", str(tmp_path / "frames"))
    assert proc.returncode == 0, proc.stderr
    frames = np.stack([np.asarray(Image.open(tmp_path / "frames" / f"frame_{i:05d}.png"))
                       for i in range(4)])
    want = to_uint8(expected["img_const"]).astype(int)
    assert np.abs(frames.astype(int) - want).max() <= 1  # the images, to 8-bit rounding

    out = tmp_path / "grid.png"
    proc = run_dynode("generate", "--generator", "stylegan2", "--checkpoint", str(pkl()), "-n",
                      "4", "--columns", "4", "--seed", "5", "--truncation", "0.7", "--device",
                      "cpu", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    g = load_generator(pkl())
    z = torch.randn(4, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        tiles = to_uint8(g.synthesize(g.mapping(z, truncation=0.7))).astype(int)
    grid = np.asarray(Image.open(out)).astype(int).reshape(32, 4, 32, 3).transpose(1, 0, 2, 3)
    assert np.abs(grid - tiles).max() <= 1


def test_convert_pickle_reproduces_the_images(tmp_path, expected):
    out = tmp_path / "model.safetensors"
    proc = run_dynode("convert", str(pkl()), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["format"] == "dynode.stylegan2/1" and side["config"]["conv_clamp"] == 256
    assert side["source"]["network"] == "G_ema" and len(side["source"]["sha256"]) == 64
    g = get_registry().create("generators", "stylegan2", checkpoint=str(out), device="cpu")
    check_reproduces(g, expected)
    again = run_dynode("convert", str(pkl()), "--out", str(out))
    assert again.returncode == 1 and "--overwrite" in again.stderr
    raw = tmp_path / "raw.safetensors"
    assert run_dynode("convert", str(pkl()), "--network", "G", "--out", str(raw)).returncode == 0
    with torch.no_grad():
        want = load_generator(pkl(), network="G").synthesize(expected["ws"])
        assert torch.equal(load_generator(raw).synthesize(expected["ws"]), want)


def test_convert_rosinality_checkpoint(tmp_path):
    from safetensors.torch import load_file

    ref = load_file(str(fixture_path("stylegan2-rosinality", "expected.safetensors")))
    src = fixture_path("stylegan2-rosinality", "stylegan2_converted.pt")
    out = tmp_path / "ros.safetensors"
    proc = run_dynode("convert", str(src), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    g = load_generator(out)
    with torch.no_grad():
        assert max_diff(g.synthesize(g.mapping(ref["z"], truncation=0.7)),
                        ref["img_trunc_0.7"]) <= TOL
    assert g.config["conv_clamp"] is None


def test_convert_help_imports_no_torch():
    code = ("import sys; from dynode_core.cli import main; rc = main(['convert', '--help']); "
            "print(rc, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert "--network [G_ema|G]" in proc.stdout, proc.stderr
    assert proc.stdout.split()[-2:] == ["0", "False"], proc.stdout
