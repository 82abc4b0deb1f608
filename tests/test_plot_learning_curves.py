"""scripts/plot_learning_curves.py: curves break where a training phase did not log a series."""

from __future__ import annotations

import json
import math

import pytest
from PIL import Image

from conftest import load_script


@pytest.fixture(scope="module")
def plot():
    return load_script("plot_learning_curves")


def test_a_phase_without_the_series_breaks_the_line(plot):
    points = [(1, 1.0), (2, 2.0), (3, 3.0), (500, 4.0), (501, 5.0)]
    out = plot.broken(points)
    assert [x for x, _ in out] == [1, 2, 3, 3, 500, 501]
    assert math.isnan(out[3][1]) and [y for _, y in out if not math.isnan(y)] == [1, 2, 3, 4, 5]
    assert plot.broken(points[:3]) == points[:3] and plot.broken(points[:1]) == points[:1]


def test_writes_a_png_from_a_gan_log(plot, tmp_path):
    rows = [{"step": s, "kimg": s / 100, "d_loss": 1.0} for s in (25, 50, 75)]
    rows += [{"step": s, "kimg": s / 100, "recon_l1": 0.1} for s in range(100, 2000, 25)]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plot.main(["--gan", str(log), "--out", str(tmp_path / "curves.png")])
    assert Image.open(tmp_path / "curves.png").size[0] > 300
    with pytest.raises(SystemExit):
        plot.main(["--out", str(tmp_path / "none.png")])
