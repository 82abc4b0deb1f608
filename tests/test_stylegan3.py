"""StyleGAN3: the NVIDIA-format fixtures (T and R) render through ``dynode render`` like NVIDIA's
own code, with truncation and with a per-frame input transform, also after ``dynode convert``
and from a stylegan3-editing state dict; hostile pickles are refused and never run; a whole
``dynode run`` works on a StyleGAN3 generator."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import fixture_path, run_dynode
from PIL import Image

from dynode_core import InputError, LatentTrajectory
from dynode_core.formats import read_network_pickle
from dynode_core.render import to_uint8
from dynode_core.testing import check_generator
from dynode_stylegan3.filters import filtered_lrelu
from dynode_stylegan3.loader import load_generator

FIXTURES = ("t32", "r32")


def fixture(name: str, file: str = "network-snapshot.pkl"):
    return fixture_path("stylegan3-nvidia", name, file)


def expected(name: str) -> dict:
    from safetensors.torch import load_file

    return load_file(str(fixture(name, "expected.safetensors")))


def one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)  # refused before any work
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def render_case(ref: dict, tmp_path):
    """Codes ws, ws_trunc_0.7, ws (12 frames), transforms identity x 8 then the fixture's,
    and the 8-bit images NVIDIA's code rendered for them."""
    codes = torch.cat([ref["ws"], ref["ws_trunc_0.7"], ref["ws"]])
    traj = tmp_path / "codes.safetensors"
    LatentTrajectory(times=np.arange(12) / 25.0, latents=codes, space="w+",
                     meta={"fps": 25.0}).save(traj)
    transforms = torch.eye(3).repeat(12, 1, 1)
    transforms[8:] = ref["transform"]
    tfile = tmp_path / "transforms.npy"
    np.save(tfile, transforms.numpy())
    images = torch.cat([ref["img_const"], ref["img_trunc_0.7"], ref["img_transform"]])
    return traj, tfile, to_uint8(images).astype(int)


def assert_renders(checkpoint, ref, tmp_path):
    traj, tfile, want = render_case(ref, tmp_path)
    out = tmp_path / "frames"
    proc = run_dynode("render", str(traj), "--generator", "stylegan3", "--checkpoint",
                      str(checkpoint), "--transform", str(tfile), "--device", "cpu",
                      "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    got = np.stack([np.asarray(Image.open(out / f"frame_{i:05d}.png")) for i in range(12)])
    assert np.abs(got.astype(int) - want).max() <= 1  # within 1/255 after 8-bit rounding


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_renders_like_nvidia_through_dynode_render(name, tmp_path):
    assert_renders(fixture(name), expected(name), tmp_path)


@pytest.mark.parametrize("name", FIXTURES)
def test_converted_fixture_renders_the_same(name, tmp_path):
    out = tmp_path / "g.safetensors"
    proc = run_dynode("convert", str(fixture(name)), "--generator", "stylegan3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.exists() and out.with_suffix(".json").exists()
    assert_renders(out, expected(name), tmp_path)


@pytest.mark.parametrize("name", FIXTURES)
def test_python_api_matches_reference_floats(name):
    ref, g = expected(name), load_generator(fixture(name))
    with torch.no_grad():
        w = g.mapping(ref["z"])
        assert (g.broadcast(w) - ref["ws"]).abs().max() <= 1e-5
        assert (g.broadcast(g.mapping(ref["z"], 0.7)) - ref["ws_trunc_0.7"]).abs().max() <= 1e-5
        assert (g.synthesize(ref["ws"]) - ref["img_const"]).abs().max() <= 1e-4
        moved = g.synthesize(ref["ws"], transform=ref["transform"])
        assert (moved - ref["img_transform"]).abs().max() <= 1e-4
        per_sample = g.synthesize(ref["ws"], transform=ref["transform"].expand(4, 3, 3))
        assert (per_sample - moved).abs().max() <= 1e-5


@pytest.mark.parametrize("name", FIXTURES)
def test_stylegan3_editing_state_dicts_load_with_the_derived_layer_table(name, tmp_path):
    base = load_generator(fixture(name))
    state = base.state_dict()
    bare, encoder = tmp_path / "sg3.pt", tmp_path / "restyle.pt"
    torch.save({k: v for k, v in state.items() if k != "synthesis.input.transform"}, bare)
    torch.save({"state_dict": {f"decoder.{k}": v for k, v in state.items()},
                "latent_avg": state["mapping.w_avg"]}, encoder)
    ref = expected(name)
    for path in (bare, encoder):
        g = load_generator(path)
        assert g.config["layers"] == base.config["layers"]
        with torch.no_grad():
            assert (g.synthesize(ref["ws"]) - ref["img_const"]).abs().max() <= 1e-4


def test_generator_contract_holds():
    check_generator(load_generator(fixture("t32")))


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_with_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"G_ema": _Evil(f"touch {marker}")}, fh, protocol=4)
    traj = tmp_path / "codes.safetensors"
    LatentTrajectory(times=[0.0, 0.04], latents=torch.zeros(2, 16, 32), space="w+").save(traj)
    proc = run_dynode("render", str(traj), "--generator", "stylegan3", "--checkpoint", str(path),
                      "--out", str(tmp_path / "out.png"))
    one_line_error(proc, "refused", "would run code", "system")
    assert not marker.exists()


def test_object_dtype_ndarray_is_refused(tmp_path):
    path = tmp_path / "objects.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"G_ema": np.array([1, "x"], dtype=object)}, fh, protocol=4)
    with pytest.raises(InputError, match="dtype") as info:
        read_network_pickle(path)
    assert "\n" not in str(info.value)


def test_ndarray_with_wrong_byte_count_is_refused(tmp_path):
    class Short(np.ndarray):
        def __reduce__(self):
            ctor, args, state = super().__reduce__()
            return ctor, (np.ndarray, *args[1:]), (*state[:4], state[4][:8])

    path = tmp_path / "short.pkl"
    with open(path, "wb") as fh:
        pickle.dump({"G_ema": np.arange(4, dtype=np.int64).view(Short)}, fh, protocol=4)
    with pytest.raises(InputError, match="32 bytes"):
        read_network_pickle(path)


def test_stylegan3_pickle_through_stylegan2_points_to_stylegan3(tmp_path):
    proc = run_dynode("generate", "--generator", "stylegan2", "--checkpoint", str(fixture("t32")),
                      "-n", "1", "--out", str(tmp_path / "g.png"))
    one_line_error(proc, "--generator stylegan3")


def test_transform_refused_for_a_generator_without_one(tmp_path):
    traj = tmp_path / "codes.safetensors"
    LatentTrajectory(times=[0.0, 0.04], latents=torch.zeros(2, 1, 128), space="w").save(traj)
    tfile = tmp_path / "t.npy"
    np.save(tfile, np.eye(3, dtype=np.float32))
    proc = run_dynode("render", str(traj), "--transform", str(tfile), "--out",
                      str(tmp_path / "o.png"))
    one_line_error(proc, "takes no input transform")


def test_run_end_to_end_with_optim_inversion_and_an_edit(tmp_path):
    out = tmp_path / "run"
    proc = run_dynode("run", "world:circle:8", "--generator", "stylegan3", "--checkpoint",
                      str(fixture("r32")), "--inverter", "optim", "--inversion-steps", "2",
                      "--dynamics", "linear", "--edit", "sefa:0:1.0", "--out", str(out),
                      "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (out / "edited_sefa-0-1.mp4").stat().st_size > 0
    assert (out / "report.html").exists()


def naive_filtered_lrelu(x, fu, fd, up, down, padding, gain, slope, clamp):
    """The definition: zeros between samples, pad, convolve (flipped), lrelu, clamp, filter,
    keep every down-th sample."""
    def fir(x, f, gain):
        f = f * gain ** (f.dim() / 2)
        g, c = f.flip(list(range(f.dim()))), x.shape[1]
        if f.dim() == 2:
            return F.conv2d(x, g[None, None].repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        return F.conv2d(x, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)

    n, c, h, w = x.shape
    wide = x.new_zeros(n, c, h * up, w * up)
    wide[:, :, ::up, ::up] = x
    y = F.leaky_relu(fir(F.pad(wide, padding), fu, up ** 2), slope) * gain
    return fir(y.clamp(-clamp, clamp), fd, 1.0)[:, :, ::down, ::down]


@pytest.mark.parametrize("size,up,down,taps,radial,padding", [
    (38, 2, 2, 12, False, (9, 8, 9, 8)), (38, 4, 2, 24, False, (-6, -9, -6, -9)),
    (38, 2, 2, 12, True, (9, 8, 9, 8)), (11, 3, 2, 7, False, (3, -2, 1, 4))])
def test_polyphase_filtered_lrelu_equals_the_definition(size, up, down, taps, radial, padding):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, size, size, generator=gen, dtype=torch.float64)
    fu = torch.randn(taps, generator=gen, dtype=torch.float64)
    fd = torch.randn(*((12, 12) if radial else (12,)), generator=gen, dtype=torch.float64)
    want = naive_filtered_lrelu(x, fu, fd, up, down, padding, 2 ** 0.5, 0.2, 4.0)
    got = filtered_lrelu(x.clone(), fu, fd, up=up, down=down, padding=padding, gain=2 ** 0.5,
                         slope=0.2, clamp=4.0)
    assert got.shape == want.shape and (got - want).abs().max() < 1e-10



def test_gradient_through_the_recomputed_activations_matches_finite_differences():
    g = load_generator(fixture("t32")).double()
    gen = torch.Generator().manual_seed(1)
    w = (g.mean_latent()[None, None] + 0.5 * torch.randn(1, 16, 32, generator=gen,
                                                          dtype=torch.float64))
    probe = torch.randn(1, 3, 32, 32, generator=gen, dtype=torch.float64)
    direction = torch.randn(w.shape, generator=gen, dtype=torch.float64)
    w.requires_grad_(True)
    (g.synthesize(w) * probe).sum().backward()
    eps = 1e-7  # small enough that no leaky ReLU kink lies between the two probes
    with torch.no_grad():
        ahead = (g.synthesize(w + eps * direction) * probe).sum()
        behind = (g.synthesize(w - eps * direction) * probe).sum()
    numeric = (ahead - behind) / (2 * eps)
    assert torch.isclose((w.grad * direction).sum(), numeric, rtol=1e-6)


@pytest.mark.parametrize("name", FIXTURES)
def test_input_transform_builds_the_fixture_transform(name):
    import json

    from dynode_stylegan3.transform import input_transform

    meta = json.loads(fixture(name, "meta.json").read_text())["transform"]
    built = input_transform(meta["translate"], meta["angle_deg"])
    assert (built - expected(name)["transform"]).abs().max() <= 1e-6


def test_transform_file_of_the_wrong_length_is_refused_before_loading(tmp_path):
    traj = tmp_path / "codes.safetensors"
    LatentTrajectory(times=[0.0, 0.04, 0.08], latents=torch.zeros(3, 16, 32), space="w+").save(traj)
    tfile = tmp_path / "t.npy"
    np.save(tfile, np.stack([np.eye(3, dtype=np.float32)] * 2))
    proc = run_dynode("render", str(traj), "--generator", "stylegan3", "--checkpoint",
                      str(tmp_path / "absent.pkl"), "--transform", str(tfile), "--out",
                      str(tmp_path / "o.png"))
    one_line_error(proc, "--transform must hold", "for 3 frames", "(2, 3, 3)")


def test_stylegan2_pickle_through_stylegan3_points_to_stylegan2(tmp_path):
    pkl = fixture_path("stylegan2-nvidia", "network-snapshot.pkl")
    proc = run_dynode("generate", "--generator", "stylegan3", "--checkpoint", str(pkl), "-n", "1",
                      "--out", str(tmp_path / "g.png"))
    one_line_error(proc, "not a StyleGAN3 network pickle", "--generator stylegan2")
