"""Contact sheets, trajectory plots and run configs."""

import numpy as np
import pytest
import torch
from PIL import Image

from dynode_core.errors import InputError
from dynode_core.render import contact_sheet, pick_columns, to_tensor, to_uint8
from dynode_core.run.report import trajectory_plot
from dynode_core import RunConfig


def test_uint8_round_trip_is_exact():
    frames = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8(to_tensor(frames)), frames)


def test_contact_sheet_has_one_row_per_label(tmp_path):
    rows = [(name, np.full((20, 16, 16, 3), v, np.uint8)) for name, v in
            [("input", 0), ("reconstruction", 100), ("edited", 200)]]
    path = contact_sheet(rows, tmp_path / "sheet.png", columns=5)
    img = np.asarray(Image.open(path))
    assert img.shape[0] == 3 * (16 + 2)
    assert (img[18 * 2 + 8, 110 + 8] == 200).all()  # a tile of the third row
    assert list(pick_columns(20, 5)) == [0, 5, 10, 14, 19]


def test_trajectory_plot_writes_a_png(tmp_path):
    obs = torch.randn(6, 2, 4)
    dense = torch.randn(21, 2, 4)
    t_obs, t_dense = torch.linspace(0, 1, 6), torch.linspace(0, 1, 21)
    path = trajectory_plot(tmp_path / "t.png", observed_times=t_obs, observed=obs,
                           path_times=t_dense, fitted=dense, linear=dense * 0.5,
                           edited=dense + 1, samples=torch.randn(3, 21, 2, 4))
    assert Image.open(path).size[0] > 500


def test_run_config_round_trips_through_toml(tmp_path):
    cfg = RunConfig(input="clip.mp4", dynamics="cubic", edits=["sefa:0:2.0"], seed=3)
    (tmp_path / "config.toml").write_text(cfg.to_toml())
    back = RunConfig.from_toml(tmp_path / "config.toml")
    assert back == cfg
    assert RunConfig.from_toml(tmp_path / "config.toml", seed=5).seed == 5


@pytest.mark.parametrize("text, words", [
    ('format = "dynode.run/1"\n[run]\nbogus = 1\n', "unknown settings bogus"),
    ("not toml [", "not valid TOML"),
    ('format = "dynode.run/1"\n[run]\ninterpolate = 0\n', "--interpolate"),
])
def test_bad_config_files_are_refused_clearly(tmp_path, text, words):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(InputError, match=words):
        RunConfig.from_toml(tmp_path / "c.toml")
