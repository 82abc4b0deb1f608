import math

import pytest
import torch

from dynode_core.trajectory import FORMAT, LatentTrajectory, TrajectoryError

from conftest import fixture_path


def make(times, T=None):
    T = len(times) if T is None else T
    return LatentTrajectory(torch.tensor(times, dtype=torch.float64), torch.randn(T, 3, 4))


@pytest.mark.parametrize("times, words", [
    ([0.0, 2.0, 1.0], "unsorted"),
    ([0.0, 1.0, 1.0], "duplicate"),
    ([0.0, math.nan, 2.0], "finite"),
    ([0.0, math.inf, 2.0], "finite"),
])
def test_bad_times_are_rejected_with_a_clear_error(times, words):
    with pytest.raises(TrajectoryError, match=words):
        make(times)


def test_non_finite_latents_name_the_frame():
    lat = torch.zeros(3, 1, 4)
    lat[2, 0, 1] = math.nan
    with pytest.raises(TrajectoryError, match="frame 2"):
        LatentTrajectory(torch.tensor([0.0, 1.0, 2.0]), lat)


def test_shape_mismatch_and_bad_space():
    with pytest.raises(TrajectoryError, match="3 frames but times hold 2"):
        LatentTrajectory(torch.tensor([0.0, 1.0]), torch.zeros(3, 1, 4))
    with pytest.raises(TrajectoryError, match="latent space"):
        LatentTrajectory(torch.tensor([0.0]), torch.zeros(1, 1, 4), space="s")


def test_save_load_round_trip_is_exact(tmp_path):
    traj = LatentTrajectory(torch.tensor([0.0, 0.04, 0.1]), torch.randn(3, 8, 16),
                            meta={"fps": 25.0, "source": "clip.mp4"})
    path = traj.save(tmp_path / "t.safetensors")
    back = LatentTrajectory.load(path)
    assert torch.equal(back.times, traj.times) and back.times.dtype == torch.float64
    assert torch.equal(back.latents, traj.latents)
    assert back.space == "w+" and back.meta == traj.meta
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert f.metadata()["format"] == FORMAT
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_unknown_format_version_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "future.safetensors"
    save_file({"times": torch.zeros(1, dtype=torch.float64), "latents": torch.zeros(1, 1, 2)},
              str(path), metadata={"format": "dynode.trajectory/99"})
    with pytest.raises(TrajectoryError, match="dynode.trajectory/99"):
        LatentTrajectory.load(path)


def test_reads_the_bare_paper_tensor():
    pth = LatentTrajectory.load(fixture_path("dynode-paper", "all_latents.pth"), fps=25)
    st = LatentTrajectory.load(fixture_path("dynode-paper", "latents.safetensors"), fps=25)
    assert pth.latents.shape == (11, 18, 512) and pth.space == "w+"
    assert torch.equal(pth.latents, st.latents)
    assert torch.allclose(pth.times, torch.arange(11, dtype=torch.float64) / 25)
