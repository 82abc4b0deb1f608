"""Values of the wrong type, broken trajectory headers and complex codes end in one line
(``Error: ...``, exit 2: refused before any work), never in a traceback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from dynode_core import InputError, LatentTrajectory, RunConfig
from dynode_core.trajectory import TrajectoryError

from conftest import run_dynode


def assert_one_line(proc, *words) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines()
             if ln.strip() and not ln.startswith("warning: dynode plugin")]
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ config.toml types
BAD_SETTINGS = [  # (TOML line, the one line it must give)
    ('interpolate = "4"', 'setting interpolate must be an integer, got "4" (a string)'),
    ("edits = 3", "setting edits must be a list of strings, got 3 (an integer)"),
    ('edits = "sefa:0:1"', 'setting edits must be a list of strings, got "sefa:0:1" (a string)'),
    ('edits = ["sefa:0:1", 2]', 'setting edits must be a list of strings, got ["sefa:0:1", 2]'),
    ("extrapolate = true", "setting extrapolate must be a number, got true (a boolean)"),
    ("seed = 1.5", "setting seed must be an integer, got 1.5 (a number)"),
    ('gif = "yes"', 'setting gif must be true or false, got "yes" (a string)'),
    ("max_frames = [1]", "setting max_frames must be an integer, got [1] (a list)"),
    ("generator = 7", "setting generator must be a string, got 7 (an integer)"),
]


def _config(tmp_path, line: str):
    path = tmp_path / "bad.toml"
    path.write_text(f'format = "dynode.run/1"\n\n[run]\n{line}\n')
    return path


@pytest.mark.parametrize("line, message", BAD_SETTINGS)
def test_a_config_value_of_the_wrong_type_is_one_line(tmp_path, line, message):
    path = _config(tmp_path, line)
    with pytest.raises(InputError) as err:
        RunConfig.from_toml(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_dynode_run_with_a_bad_config_says_so_and_makes_no_folder(tmp_path):
    path = _config(tmp_path, 'interpolate = "4"')
    proc = run_dynode("run", "--config", str(path), "--out", str(tmp_path / "run"),
                      "--quiet", cwd=tmp_path)
    assert_one_line(proc, str(path), 'setting interpolate must be an integer, got "4"')
    assert not (tmp_path / "run").exists()


def test_python_callers_get_the_same_check_and_good_values_pass(tmp_path):
    with pytest.raises(InputError, match=r"^setting interpolate must be an integer, got 2\.5"):
        RunConfig(interpolate=2.5)
    with pytest.raises(InputError, match=r"^setting out must be a string, got PosixPath"):
        RunConfig(out=tmp_path / "run")  # config.toml could not hold it
    config = RunConfig(extrapolate=1, fps=30, edits=("sefa:0:1",), out=str(tmp_path / "run"),
                       max_frames=None)
    assert config.edits == ["sefa:0:1"] and config.extrapolate == 1
    good = tmp_path / "good.toml"
    good.write_text(config.to_toml())
    assert RunConfig.from_toml(good, seed=3) == RunConfig(**{**vars(config), "seed": 3})


# ------------------------------------------------------------------ trajectory files
def _rewrite_meta(path, meta: str) -> None:
    """Replace the header's ``meta`` string in a saved trajectory (same tensors)."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    save_file(tensors, str(path), metadata={"format": "dynode.trajectory/1", "space": "w+",
                                            "meta": meta})


@pytest.mark.parametrize("meta, words", [
    ("{not json", "header 'meta' is not valid JSON"),
    ("[1, 2]", "header 'meta' must be a JSON object, got list"),
])
def test_a_trajectory_with_broken_header_metadata_is_one_line(tmp_path, meta, words):
    path = tmp_path / "bad.safetensors"
    LatentTrajectory(torch.arange(4.0), torch.randn(4, 2, 8), "w+", {"a": 1}).save(path)
    _rewrite_meta(path, meta)
    with pytest.raises(TrajectoryError, match=rf"^{path}: {words}"):
        LatentTrajectory.load(path)
    proc = run_dynode("fit", str(path), "--out", str(tmp_path / "fit"), "--device", "cpu",
                      "--quiet")
    assert_one_line(proc, f"{path}: {words}")
    assert not (tmp_path / "fit").exists()


@pytest.mark.parametrize("dtype", [torch.complex64, torch.int64, torch.bool])
def test_latents_must_be_real_floats(dtype):
    latents = torch.ones(3, 2, 4, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # complex -> float would warn: no warning gets there
        with pytest.raises(TrajectoryError, match=rf"^latents must be real floating-point "
                           rf"numbers; got {dtype}$"):
            LatentTrajectory(torch.arange(3.0), latents)
    with pytest.raises(TrajectoryError, match="times must be real numbers; got complex"):
        LatentTrajectory(np.arange(3) + 0j, torch.ones(3, 2, 4))
    assert LatentTrajectory(torch.arange(3), torch.ones(3, 2, 4).double()).latents.dtype \
        == torch.float32


def test_complex_codes_in_a_file_are_one_line(tmp_path):
    pt = tmp_path / "codes.pt"
    torch.save(torch.randn(3, 2, 4, dtype=torch.complex64), pt)
    with pytest.raises(TrajectoryError, match=r"codes must be real floating-point numbers; "
                       r"got torch\.complex64"):
        LatentTrajectory.load(pt)
    from safetensors.torch import save_file

    st = tmp_path / "codes.safetensors"
    save_file({"latents": torch.randn(3, 2, 4, dtype=torch.complex64)}, str(st))
    proc = run_dynode("fit", str(st), "--out", str(tmp_path / "fit"), "--device", "cpu",
                      "--quiet")
    assert_one_line(proc, "codes must be real floating-point numbers; got torch.complex64")
