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


def _plot(path, **changes):
    """``trajectory_plot`` of fixed random codes as an (H, W, 3) int array; ``changes``
    replace (or, with None, leave out) the fitted / straight / edited paths and samples."""
    g = torch.Generator().manual_seed(0)
    obs, dense = torch.randn(6, 2, 4, generator=g), torch.randn(21, 2, 4, generator=g)
    curves = {"fitted": dense, "linear": dense * 0.5, "edited": dense + 1,
              "samples": torch.randn(3, 21, 2, 4, generator=g), **changes}
    out = trajectory_plot(path, observed_times=torch.linspace(0, 1, 6), observed=obs,
                          path_times=torch.linspace(0, 1, 21), **curves)
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def _pixels(img, rgb):
    """Mask of the pixels within 2 levels of ``rgb`` (a line's unblended core)."""
    return np.abs(img - np.array(rgb)).max(axis=-1) <= 2


C0, C3 = (31, 119, 180), (214, 39, 40)  # matplotlib's colours of the fitted and edited paths


def test_trajectory_plot_draws_every_path(tmp_path):
    full = _plot(tmp_path / "full.png")
    # the fitted path: blue pixels spread over both panels (a path, not only a legend
    # stub); none at all when there is no fitted path
    half = full.shape[1] // 2
    for panel in (full[:, :half], full[:, half:]):
        ys, xs = np.nonzero(_pixels(panel, C0))
        assert len(xs) > 300 and np.ptp(xs) > 100 and np.ptp(ys) > 100
    assert not _pixels(_plot(tmp_path / "nofit.png", fitted=None), C0).any()
    # the edited path is red, and only there when given
    assert _pixels(full, C3).sum() > 300
    no_edit = _plot(tmp_path / "noedit.png", edited=None)
    assert not _pixels(no_edit, C3).any() and _pixels(no_edit, C0).sum() > 300
    # the SDE samples change both panels (paths on the left, the 5-95 % band on the right)
    no_samples = _plot(tmp_path / "nosamples.png", samples=None)
    changed = (no_samples != full).any(axis=-1)
    assert changed[:, :half].sum() > 100 and changed[:, half:].sum() > 100


def test_run_config_round_trips_through_toml(tmp_path):
    cfg = RunConfig(input="clip.mp4", dynamics="cubic", edits=["sefa:0:2.0"], seed=3)
    (tmp_path / "config.toml").write_text(cfg.to_toml())
    back = RunConfig.from_toml(tmp_path / "config.toml")
    assert back == cfg
    assert RunConfig.from_toml(tmp_path / "config.toml", seed=5).seed == 5


@pytest.mark.parametrize("text, words", [
    ('format = "dynode.run/1"\n[run]\nbogus = 1\n', "unknown settings bogus"),
    ("not toml [", "not valid TOML"),
    ('format = "dynode.run/1"\n[run]\ninterpolate = 0\n', "setting interpolate must be an integer between 1"),
])
def test_bad_config_files_are_refused_clearly(tmp_path, text, words):
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(InputError, match=words):
        RunConfig.from_toml(tmp_path / "c.toml")
