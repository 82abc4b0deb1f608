"""``benchmarks/judge_sensitivity.py``: the realism judge measured on renders changed by a
known amount (the scale on which the bundled generator's samples are placed)."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import load_script


@pytest.fixture(scope="module")
def sensitivity():
    return load_script("judge_sensitivity", folder="benchmarks")


@pytest.mark.slow  # trains two judges on 1,000 renders each: about a minute quiet, 3 busy
def test_judge_finds_a_large_stain_and_not_8_bit_rounding(sensitivity):
    stained = sensitivity.sensitivity("blotches", 0.05, 1000, epochs=12, patience=4)
    rounded = sensitivity.sensitivity("uint8", None, 1000, epochs=12, patience=4)
    assert stained["heldout_accuracy"] > 0.9, stained
    assert rounded["heldout_accuracy"] < 0.7, rounded
    assert stained["corner_std"] > 5 * rounded["corner_std"]


@pytest.mark.parametrize("name", ["noise", "blotches", "colour", "blur", "supersample", "uint8",
                                  "projection"])
def test_every_perturbation_keeps_the_scene(sensitivity, name):
    factors, images = sensitivity.renders(4, 3)
    level = 5 if name == "projection" else sensitivity.PERTURBATIONS[name][1][-1]
    changed = sensitivity.PERTURBATIONS[name][0](images, factors, level,
                                                 torch.Generator().manual_seed(0), lambda *a, **k: None)
    assert changed.shape == images.shape
    assert 0 < (changed - images).abs().mean() / 2 < 0.02  # changed, but the same scene


def test_blur_softens_edges_on_the_sharpness_scale(sensitivity):
    factors, images = sensitivity.renders(64, 3)
    soft = sensitivity.blur(images, factors, 1.0, None, None)
    assert sensitivity.statistics(soft)["edge_sharpness"] < 0.3 * sensitivity.statistics(images)["edge_sharpness"]


@pytest.mark.parametrize("args, message", [(["--epochs", "0"], "--epochs must be >= 1"),
                                           (["--levels", "0"], "--levels must be > 0")])
def test_cli_refuses_sizes_below_one_and_levels_not_above_zero(sensitivity, capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        sensitivity.main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_judges_the_levels_asked_for_and_writes_json(sensitivity, tmp_path):
    out = tmp_path / "js.json"
    sensitivity.main(["--only", "colour", "uint8", "--levels", "0.05", "--n-real", "100",
                      "--epochs", "1", "--patience", "1", "--quiet", "--json", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["perturbation"], r["level"]) for r in rows] == [("colour", 0.05), ("uint8", None)]
    assert all(0 <= r["heldout_accuracy"] <= 1 and r["epochs_run"] == 1 for r in rows)
    assert [p.name for p in tmp_path.iterdir()] == ["js.json"]  # no temporary file left
