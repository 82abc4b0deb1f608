"""NVIDIA network pickles: read safely (nothing from the file runs), refused with one line
when dynode cannot run them, mapped exactly (conv_clamp, class labels), loaded in ~2x the file.

The helpers write files in the layout of NVIDIA network pickles without NVIDIA's code.
The globals such files name (``torch_utils.persistence._reconstruct_persistent_obj``,
``dnnlib.tflib.network.Network``, ...) are stand-ins installed in ``sys.modules`` only while
pickling; tensors pickle themselves as ``torch._utils._rebuild_tensor_v2`` +
``torch.storage._load_from_bytes``, as in real files.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import types
from collections import OrderedDict

import pytest
import torch
from conftest import REPO, run_dynode

from dynode_core import InputError
from dynode_stylegan2.loader import load_generator
from dynode_stylegan2.model import StyleGAN2Generator
from dynode_core.formats import load_network

FILTER = torch.tensor([1.0, 3, 3, 1])[None] * torch.tensor([1.0, 3, 3, 1])[:, None] / 64


@contextlib.contextmanager
def fake_globals(**names):
    """Install stand-ins: ``fake_globals(**{"pkg.mod:Name": obj})`` -> picklable by that name."""
    added = []
    try:
        for target, obj in names.items():
            module, _, name = target.partition(":")
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                mod = ".".join(parts[:i])
                if mod not in sys.modules:
                    sys.modules[mod] = types.ModuleType(mod)
                    added.append(mod)
            obj.__module__, obj.__qualname__, obj.__name__ = module, name, name
            setattr(sys.modules[module], name, obj)
        yield
    finally:
        for mod in reversed(added):
            del sys.modules[mod]


def _reconstruct(meta):  # never called: only its name is pickled
    raise AssertionError("called")


class Persistent:
    """Pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)``."""

    def __init__(self, class_name, state, module_src="# source not included\n"):
        self.meta = {"type": "class", "version": 6, "module_src": module_src,
                     "class_name": class_name, "state": state}

    def __reduce__(self):
        return _reconstruct, (self.meta,)


def module(class_name, params=None, buffers=None, modules=None, **attrs):
    """A persistent module: parameters, buffers, submodules and plain attributes."""
    state = {"training": False, "_parameters": OrderedDict(
        (k, torch.nn.Parameter(v.detach().clone(), requires_grad=False))
        for k, v in (params or {}).items()),
        "_buffers": OrderedDict((k, v.detach().clone()) for k, v in (buffers or {}).items()),
        "_non_persistent_buffers_set": set(), "_modules": OrderedDict(modules or {}),
        "_init_args": (), "_init_kwargs": dict(attrs), **attrs}
    return Persistent(class_name, state)


def dump(obj, path, protocol=4) -> None:
    """Pickle ``obj`` (holding :class:`Persistent` objects) to ``path``."""
    with fake_globals(**{"torch_utils.persistence:_reconstruct_persistent_obj": _reconstruct}):
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=protocol)


def _fc(weight, bias, lr, activation):
    return module("FullyConnectedLayer", {"weight": weight, "bias": bias},
                  activation=activation, bias_gain=lr, weight_gain=lr / weight.shape[1] ** 0.5)


def _layer(sd, src, noise, clamp, up):
    params = {"weight": sd[f"{src}.conv.weight"][0], "bias": sd[f"{src}.activate.bias"],
              "noise_strength": sd[f"{src}.noise.weight"][0]}
    affine = _fc(sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"], 1.0,
                 "linear")
    return module("SynthesisLayer", params, {"noise_const": noise[0, 0], "resample_filter": FILTER},
                  {"affine": affine}, up=up, conv_clamp=clamp, activation="lrelu")


def _torgb(sd, src, clamp):
    affine = _fc(sd[f"{src}.conv.modulation.weight"], sd[f"{src}.conv.modulation.bias"], 1.0,
                 "linear")
    return module("ToRGBLayer", {"weight": sd[f"{src}.conv.weight"][0],
                                 "bias": sd[f"{src}.bias"].reshape(3)}, None,
                  {"affine": affine}, conv_clamp=clamp)


def nvidia_generator(g) -> Persistent:
    """A dynode :class:`StyleGAN2Generator` as a persistent NVIDIA ``Generator``."""
    sd, cfg = g.state_dict(), g.config
    clamp, lr = cfg["conv_clamp"], cfg["lr_mlp"]
    fcs = {f"fc{i}": _fc(sd[f"style.{i + 1}.weight"], sd[f"style.{i + 1}.bias"], lr, "lrelu")
           for i in range(cfg["n_mlp"])}
    if cfg["c_dim"]:
        fcs["embed"] = _fc(sd["embed.weight"], sd["embed.bias"], 1.0, "linear")
    mapping = module("MappingNetwork", buffers={"w_avg": sd["latent_avg"]}, modules=fcs)
    blocks = {"b4": module("SynthesisBlock", {"const": sd["input.input"][0]},
                           {"resample_filter": FILTER},
                           {"conv1": _layer(sd, "conv1", sd["noises.noise_0"], clamp, 1),
                            "torgb": _torgb(sd, "to_rgb1", clamp)}, architecture="skip")}
    for k in range(len(g.to_rgbs)):
        blocks[f"b{2 ** (k + 3)}"] = module("SynthesisBlock", None, {"resample_filter": FILTER}, {
            "conv0": _layer(sd, f"convs.{2 * k}", sd[f"noises.noise_{2 * k + 1}"], clamp, 2),
            "conv1": _layer(sd, f"convs.{2 * k + 1}", sd[f"noises.noise_{2 * k + 2}"], clamp, 1),
            "torgb": _torgb(sd, f"to_rgbs.{k}", clamp)}, architecture="skip")
    synthesis = module("SynthesisNetwork", modules=blocks, num_ws=g.num_ws)
    return module("Generator", modules={"synthesis": synthesis, "mapping": mapping},
                  z_dim=g.latent_dim, c_dim=cfg["c_dim"], w_dim=g.latent_dim, num_ws=g.num_ws)


def write_network_pickle(path, g, g_raw=None) -> None:
    """``{'G', 'D', 'G_ema', 'augment_pipe', 'training_set_kwargs'}`` with ``g`` as G_ema."""
    disc = module("Discriminator", {"w": torch.randn(4, 4)}, c_dim=0)
    dump({"G": nvidia_generator(g_raw or g), "D": disc, "G_ema": nvidia_generator(g),
          "augment_pipe": None, "training_set_kwargs": {"resolution": g.resolution}}, path)


# ----------------------------------------------------------------------------- tests


def small_generator(seed=0, **kw) -> StyleGAN2Generator:
    """A 16 px generator with random weights everywhere (biases, noise strengths too)."""
    torch.manual_seed(seed)
    g = StyleGAN2Generator(16, 32, 2, channels={4: 16, 8: 16, 16: 8}, **kw).eval()
    with torch.no_grad():
        for p in g.parameters():
            p.normal_()
        g.latent_avg.normal_()
    return g


def assert_one_line_error(proc, *words):
    """Exit code 2 (refused before any work), no traceback, one line on stderr holding
    ``words``."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def generate_args(ckpt, out):
    return ("generate", "--generator", "stylegan2", "--checkpoint", str(ckpt), "-n", "2",
            "--device", "cpu", "--out", str(out))


class _Evil:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_refuses_os_system_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pkl"
    dump({"G_ema": Persistent("Generator", {}), "x": _Evil(f"touch {marker}")}, path)
    with pytest.raises(InputError, match=r"refused .*run code \((posix|os|nt)\.system\)") as err:
        load_generator(path)
    assert "\n" not in str(err.value) and not marker.exists()
    never = tmp_path / "never.pkl"  # a module that would be imported: it is not
    with fake_globals(**{"dynode_never_imported.mod:run": _reconstruct}):
        never.write_bytes(pickle.dumps({"f": _reconstruct}))
    with pytest.raises(InputError, match="dynode_never_imported.mod.run"):
        load_network(never)
    assert "dynode_never_imported" not in sys.modules


@pytest.mark.parametrize("protocol", [2, 3, 5])  # 2 and 3 pickle sets and bytes by globals
def test_module_src_is_never_executed(tmp_path, protocol):
    marker = tmp_path / "module_src_ran.txt"
    g = nvidia_generator(small_generator())
    g.meta["module_src"] = f"open({str(marker)!r}, 'w').write('ran')\n"
    path = tmp_path / "net.pkl"
    dump({"G_ema": g, "G": g, "D": module("Discriminator")}, path, protocol)
    assert load_generator(path).resolution == 16
    assert not marker.exists()


def test_stylegan3_pickle_is_refused_in_one_line(tmp_path):
    layer = module("SynthesisLayer", {"weight": torch.randn(4, 4, 3, 3)}, conv_clamp=256)
    synthesis = module("SynthesisNetwork", modules={
        "input": module("SynthesisInput", buffers={"freqs": torch.randn(4, 2)}),
        "L0_36_512": layer})
    g = module("Generator", modules={"mapping": module("MappingNetwork"), "synthesis": synthesis})
    path = tmp_path / "stylegan3-r.pkl"
    dump({"G": g, "D": module("Discriminator"), "G_ema": g}, path)
    proc = run_dynode(*generate_args(path, tmp_path / "g.png"))
    assert_one_line_error(proc, "is a StyleGAN3 network pickle, not StyleGAN2: load it with "
                                "--generator stylegan3")


def test_tensorflow_pickle_is_refused_in_one_line(tmp_path):
    class Network:  # state as dnnlib.tflib pickles it: plain dicts and lists
        def __getstate__(self):
            return {"version": 4, "name": "G", "static_kwargs": {"resolution": 1024},
                    "components": {}, "build_module_src": "raise SystemExit",
                    "build_func_name": "G_main", "variables": [("w", [0.0, 1.0])]}

    path = tmp_path / "stylegan2-ffhq-config-f.pkl"
    with fake_globals(**{"dnnlib.tflib.network:Network": Network}):
        path.write_bytes(pickle.dumps((Network(), Network(), Network()), protocol=2))
    proc = run_dynode(*generate_args(path, tmp_path / "g.png"))
    assert_one_line_error(proc, "TensorFlow-era", "legacy.py")


def test_whole_pickled_modules_are_refused(tmp_path):
    path = tmp_path / "stit_generator.pkl"
    dump(nvidia_generator(small_generator()), path)
    with pytest.raises(InputError, match="whole pickled Generator module"):
        load_generator(path)
    pt = tmp_path / "model_tuned.pt"
    torch.save(torch.nn.Linear(2, 2), pt)
    proc = run_dynode(*generate_args(pt, tmp_path / "g.png"))
    assert_one_line_error(proc, "whole pickled Python object", "torch.nn.modules")


def test_conv_clamp_and_labels_map_exactly(tmp_path):
    g = small_generator(c_dim=3, conv_clamp=0.5)
    unclamped = small_generator(c_dim=3)
    path = tmp_path / "cond.pkl"
    write_network_pickle(path, g, g_raw=small_generator(seed=1, c_dim=3, conv_clamp=0.5))
    loaded = load_generator(path)
    assert loaded.config == g.config and loaded.config["conv_clamp"] == 0.5
    z = torch.randn(3, 32)
    with torch.no_grad():
        for label in (2, torch.tensor([0, 1, 2]), torch.eye(3)):
            want = g.synthesize(g.mapping(z, 0.7, label=label))
            assert torch.equal(loaded.synthesize(loaded.mapping(z, 0.7, label=label)), want)
            assert not torch.allclose(unclamped.synthesize(unclamped.mapping(z, 0.7, label=label)),
                                      want)  # the clamp binds
        raw = load_generator(path, network="G")
        assert not torch.equal(raw.mapping(z, label=1), loaded.mapping(z, label=1))
    with pytest.raises(InputError, match="class-conditional: give a label"):
        loaded.mapping(z)
    with pytest.raises(InputError, match="class indices 0..2"):
        loaded.mapping(z, label=3)
    with pytest.raises(InputError, match="not class-conditional"):
        unclamped.__class__(16, 32, 2, channels={4: 16, 8: 16, 16: 8}).mapping(z, label=1)
    ok = run_dynode(*generate_args(path, tmp_path / "l.png"), "--label", "2")
    assert ok.returncode == 0, ok.stderr
    assert_one_line_error(run_dynode(*generate_args(path, tmp_path / "n.png")), "give a label")


def test_clamp_bounds_every_conv_output():
    g = small_generator(conv_clamp=0.25)
    seen = []
    for m in g.modules():
        if hasattr(m, "clamp") and not hasattr(m, "upsample"):
            m.register_forward_hook(lambda mod, args, out: seen.append(out.abs().max().item()))
    with torch.no_grad():
        g.synthesize(g.mapping(torch.randn(2, 32)))
    assert len(seen) == 6 and max(seen) <= 0.25 and max(seen) == pytest.approx(0.25)
    rgb, x = g.to_rgbs[0], torch.randn(1, 16, 8, 8)
    style, skip = torch.randn(1, 16), torch.randn(1, 3, 4, 4) * 9
    with torch.no_grad():
        want = rgb.conv(x, style, shift=rgb.bias).clamp(-0.25, 0.25) + rgb.upsample(skip)
        assert torch.equal(rgb(x, style, skip), want)  # the skip is added after the clamp


PEAK_SCRIPT = """
import os, sys, torch
from dynode_stylegan2.loader import load_generator
def kb(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024
before = kb('VmRSS')
open('/proc/self/clear_refs', 'w').write('5')
load_generator(sys.argv[1])
print(kb('VmHWM') - before)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_peak_memory_is_about_twice_the_file(tmp_path):
    g = StyleGAN2Generator(64, 256, 2, channels={r: 256 for r in (4, 8, 16, 32, 64)},
                           conv_clamp=256.0)
    path = tmp_path / "big.pkl"
    write_network_pickle(path, g)
    size = path.stat().st_size
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert size > 30e6 and int(proc.stdout) <= 2.1 * size + 24e6, (int(proc.stdout), size)
