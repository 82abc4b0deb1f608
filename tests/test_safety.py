"""Files a user gives that would run code are refused in dynode's words, by every loader
(the shared :func:`dynode_core.load_tensor_file`), and nothing from them ever runs."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch

from dynode_core import InputError, LatentTrajectory, load_tensor_file
from dynode_core.trajectory import TrajectoryError

from conftest import run_dynode

SYSTEM = r"\((posix|nt|os)\.system\)"


class _Payload:
    """Unpickling this runs ``touch MARKER``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def evil(tmp_path):
    """(a malicious .pt, a malicious .npy object array, the marker they would create)."""
    marker = tmp_path / "MARKER"
    pt = tmp_path / "evil.pt"
    torch.save({"state_dict": {"encoder.x": _Payload(marker)}, "g_ema": _Payload(marker)}, pt)
    npy = tmp_path / "evil.npy"
    np.save(npy, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    assert not marker.exists()
    return pt, npy, marker


def assert_refusal(message: str, path, what: str) -> None:
    """One line in dynode's words: the file, what it should be, the global, the rule."""
    assert "\n" not in message, message
    assert message.startswith(f"{path}: refused as {what}: loading it would run code "), message
    assert re.search(SYSTEM, message), message
    assert message.endswith("dynode reads only plain tensors and containers (weights_only)")
    assert "weights_only=False" not in message and "likely succeed" not in message


def _encoder(path):
    from dynode_inversion.checkpoint import load_encoder
    return load_encoder(path)


def _direction(path):
    from dynode_editors.files import load_direction_file
    return load_direction_file(path)


def _ganspace(path):
    from dynode_editors.ganspace import load_components
    return load_components(path)


def _generator(path):
    from dynode_stylegan2.loader import load_generator
    return load_generator(path)


LOADERS = {  # loader -> what its refusal calls the file
    "encoder": (_encoder, "an e4e/pSp checkpoint"),
    "trajectory": (LatentTrajectory.load, "a tensor of codes"),
    "direction": (_direction, "a direction file"),
    "ganspace": (_ganspace, "a GANSpace components file"),
    "stylegan2": (_generator, "a StyleGAN2 checkpoint"),
    "shared": (lambda p: load_tensor_file(p, "weights"), "weights"),
}


@pytest.mark.parametrize("name", LOADERS)
def test_each_loader_refuses_a_malicious_pickle_in_one_line(evil, name):
    pt, _, marker = evil
    load, what = LOADERS[name]
    with pytest.raises(InputError) as err:
        load(pt)
    assert_refusal(str(err.value), pt, what)
    assert not marker.exists()
    if name == "trajectory":
        assert isinstance(err.value, TrajectoryError)


def test_the_payload_is_live(evil):
    """Without the safe loader the same payload does run: the tests above can fail."""
    pt, npy, marker = evil
    torch.load(pt, weights_only=False)
    assert marker.exists()
    marker.unlink()
    np.load(npy, allow_pickle=True)
    assert marker.exists()


def test_an_npy_object_array_is_refused_without_running_it(evil):
    _, npy, marker = evil
    with pytest.raises(InputError) as err:
        _direction(npy)
    message = str(err.value)
    assert message == (f"{npy}: refused as a direction file: it holds pickled Python objects and "
                       "loading it would run code; dynode reads only numeric arrays "
                       "(allow_pickle=False)")
    assert not marker.exists()


def test_whole_pickled_objects_and_other_bad_files_are_named(tmp_path):
    torch.save({"net": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")
    with pytest.raises(InputError, match=r"module\.pt: refused as weights: it holds a whole "
                       r"pickled Python object \(torch\.nn\.modules\.linear\.Linear\)"):
        load_tensor_file(tmp_path / "module.pt", "weights")
    (tmp_path / "junk.pt").write_bytes(b"\x80\x02junk" * 50)
    with pytest.raises(InputError, match=r"^cannot read .*junk\.pt as weights \(\w+: "):
        load_tensor_file(tmp_path / "junk.pt", "weights")
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match=r"text\.npy is not weights: it holds a <U1 array"):
        load_tensor_file(tmp_path / "text.npy", "weights")
    with pytest.raises(InputError, match=r"no such file: .*absent\.pt \(expected weights\)"):
        load_tensor_file(tmp_path / "absent.pt", "weights")


def test_plain_files_still_load(tmp_path):
    import argparse

    torch.save({"w": torch.arange(3.0), "n": [1, 2]}, tmp_path / "ok.pt")
    data = load_tensor_file(tmp_path / "ok.pt", "weights")
    assert torch.equal(data["w"], torch.arange(3.0)) and data["n"] == [1, 2]
    np.save(tmp_path / "ok.npy", np.arange(4, dtype=np.float32))
    assert torch.equal(load_tensor_file(tmp_path / "ok.npy", "x"), torch.arange(4.0))
    torch.save({"args": argparse.Namespace(size=64)}, tmp_path / "ns.pt")
    assert load_tensor_file(tmp_path / "ns.pt", "x", allow=[argparse.Namespace])["args"].size == 64
    with pytest.raises(InputError, match=r"whole pickled Python object \(argparse\.Namespace\)"):
        load_tensor_file(tmp_path / "ns.pt", "x")


# ------------------------------------------------------------------------ the CLI
def assert_cli_refusal(proc, path, what: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)  # refused before any work
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines()
             if ln.strip() and not ln.startswith("warning: dynode plugin")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert_refusal(lines[0][len("Error: "):], path, what)


def _codes(tmp_path):
    path = tmp_path / "codes.safetensors"
    LatentTrajectory(torch.arange(3.0) / 25, torch.randn(3, 10, 128), "w+").save(path)
    return path


def _clip(tmp_path):
    from dynode_core import write_video

    frames = np.zeros((2, 64, 64, 3), np.uint8)
    return write_video(tmp_path / "clip.mp4", frames, fps=25.0)


CLI = {  # command -> (arguments given tmp_path and the evil file, what the file is called)
    "fit": (lambda tmp, f: ("fit", f, "--out", tmp / "fit", "--device", "cpu"),
            "a tensor of codes"),
    "generate": (lambda tmp, f: ("generate", "--generator", "stylegan2", "--checkpoint", f,
                                 "-n", "1", "--device", "cpu", "--out", tmp / "g.png"),
                 "a StyleGAN2 checkpoint"),
    "invert": (lambda tmp, f: ("invert", _clip(tmp), "--generator", "shapes64", "--encoder", f,
                               "--device", "cpu", "--out", tmp / "codes-out.safetensors"),
               "an e4e/pSp checkpoint"),
    "edit-file": (lambda tmp, f: ("edit", "--trajectory", _codes(tmp), "--propagate", "offset",
                                  "--edit", f"file:{f}:1", "--out", tmp / "e.safetensors"),
                  "a direction file"),
    "edit-ganspace": (lambda tmp, f: ("edit", "--trajectory", _codes(tmp), "--propagate",
                                      "offset", "--generator", "shapes64", "--edit",
                                      "ganspace:0:1", "-o", f"components={f}",
                                      "--out", tmp / "e.safetensors"),
                      "a GANSpace components file"),
}


@pytest.mark.parametrize("command", CLI)
def test_commands_refuse_a_malicious_pickle_with_exit_2(evil, tmp_path, command):
    pt, _, marker = evil
    args, what = CLI[command]
    proc = run_dynode(*map(str, args(tmp_path, pt)), cwd=tmp_path)
    assert_cli_refusal(proc, pt, what)
    assert not marker.exists() and not (tmp_path / "fit").exists()
