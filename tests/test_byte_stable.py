"""Same inputs, seed and thread count: the same bytes in every file dynode writes (measured
times and memory, in run.json and metrics.json, excepted)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch

from dynode_core import LatentTrajectory, read_safetensors, write_safetensors

from conftest import run_dynode

META = {"format": "x/1", "b": "2", "a": "1", "c": "é \" \\ \n"}


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def header(path) -> tuple[int, bytes]:
    data = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    return size, data[8:8 + size]


def test_safetensors_itself_writes_its_metadata_in_varying_order(tmp_path):
    """The bug the canonical header fixes (so the tests below can fail without it)."""
    from safetensors.torch import save_file

    seen = set()
    for _ in range(20):
        save_file({"x": torch.zeros(2)}, str(tmp_path / "raw.safetensors"), metadata=META)
        seen.add(digest(tmp_path / "raw.safetensors"))
    assert len(seen) > 1


def test_write_safetensors_gives_the_same_bytes_every_time(tmp_path):
    from safetensors.torch import save_file

    tensors = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.ones(3, dtype=torch.float64)}
    path = tmp_path / "a.safetensors"
    seen = set()
    for _ in range(20):
        write_safetensors(path, tensors, fmt="x/1", config={"k": [1, 2]},
                          metadata={k: v for k, v in reversed(META.items())})
        seen.add(digest(path))
    assert len(seen) == 1
    save_file(tensors, str(tmp_path / "raw.safetensors"),
              metadata={**META, "config": json.dumps({"k": [1, 2]})})
    size, text = header(path)
    assert (size, path.stat().st_size) == (header(tmp_path / "raw.safetensors")[0],
                                           (tmp_path / "raw.safetensors").stat().st_size)
    assert size % 8 == 0 and text.rstrip(b" ").startswith(b'{"__metadata__":{"a":"1","b":"2"')
    loaded, meta = read_safetensors(path)  # still a valid file, metadata kept
    assert meta == {**META, "config": '{"k": [1, 2]}'}
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())


def test_trajectories_are_byte_stable_and_round_trip(tmp_path):
    traj = LatentTrajectory(torch.arange(5.0) / 25, torch.randn(5, 3, 8), "w+",
                            {"source": "clip.mp4", "fps": 25.0, "z": 1, "a": [1, 2]})
    hashes = set()
    for _ in range(10):
        traj.save(tmp_path / "t.safetensors")
        hashes.add(digest(tmp_path / "t.safetensors"))
    assert len(hashes) == 1
    back = LatentTrajectory.load(tmp_path / "t.safetensors")
    assert torch.equal(back.latents, traj.latents) and back.meta == traj.meta


def test_ganspace_components_are_byte_stable(tmp_path):
    """torch.save names its zip records after the file; through the atomic temporary file
    that name was random, so each save differed."""
    import zipfile

    from dynode_editors.ganspace import Components, load_components, save_components

    comp = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
    components = Components(torch.randn(8), comp, torch.tensor([3.0, 2.0, 1.0]))
    path = tmp_path / "pca.pt"
    hashes = set()
    for _ in range(3):
        save_components(components, path)
        hashes.add(digest(path))
    assert len(hashes) == 1
    assert all(n.startswith("archive/") for n in zipfile.ZipFile(path).namelist())
    assert torch.allclose(load_components(path).comp, comp, atol=1e-6)


def _no_times(doc: dict) -> dict:
    """run.json without its measured times (what the guarantee leaves out)."""
    fit = {k: v for k, v in doc.get("fit", {}).items() if k != "seconds"}
    return {**{k: v for k, v in doc.items() if k != "fit_seconds"}, "fit": fit}


@pytest.mark.slow
def test_invert_fit_interpolate_write_identical_files_in_separate_processes(tmp_path):
    clip = tmp_path / "clip.mp4"
    assert run_dynode("world", "video", "--frames", "4", "--out", str(clip)).returncode == 0
    runs = []
    for i in range(3):
        cwd = tmp_path / f"run{i}"
        cwd.mkdir()
        for args in (("invert", str(clip), "--generator", "shapes64", "--steps", "2",
                      "--out", "codes.safetensors"),
                     ("fit", "codes.safetensors", "--out", "fit", "--quiet",
                      "-o", "iterations=5"),
                     ("interpolate", "fit", "--factor", "2", "--out", "more.safetensors")):
            proc = run_dynode(*args, "--device", "cpu", cwd=cwd)
            assert proc.returncode == 0, proc.stderr
        runs.append(cwd)
    files = sorted(p.relative_to(runs[0]) for p in runs[0].rglob("*") if p.is_file())
    assert [str(f) for f in files] == ["codes.safetensors", "fit/dynamics.json", "fit/run.json",
                                      "fit/state.safetensors", "fit/trajectory.safetensors",
                                      "more.safetensors"]
    for name in files:
        if name.name == "run.json":
            docs = [_no_times(json.loads((run / name).read_text())) for run in runs]
            assert docs[0] == docs[1] == docs[2]
        else:
            assert len({digest(run / name) for run in runs}) == 1, name
