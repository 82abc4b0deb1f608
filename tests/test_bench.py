"""dynode bench: a tiny interpolation and edit bench end to end, and its parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from dynode_shapes.bench.interpolate import PIXEL, REFERENCE, method_kind, resolve_methods, samplings
from dynode_shapes.bench.report import add_comparisons, targets
from dynode_core.errors import InputError

QUICK_METHODS = ("linear", "ode", "nearest-frame", "crossfade", REFERENCE)


def _cli():
    """The dynode command group with the plugins' commands (``bench`` is the world's)."""
    from dynode_core.cli import cli
    from dynode_core.plugins import get_plugin_manager

    get_plugin_manager().hook.register_commands(cli=cli)
    return cli


def test_interpolate_quick_end_to_end(tmp_path):
    out = tmp_path / "bench"
    args = ["bench", "interpolate", "--quick", "--irregular", "--out", str(out), "--quiet"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    for ext in ("csv", "json", "png", "md"):
        assert (out / f"interpolate.{ext}").stat().st_size > 0
    data = json.loads((out / "interpolate.json").read_text())
    assert data["format"] == "dynode.bench/1"
    assert data["command"].startswith("dynode bench interpolate --out")
    rows = data["rows"]
    for sampling in ("every 4", "irregular 4"):
        found = {r["method"]: r for r in rows
                 if r["task"] == "interpolate" and r["sampling"] == sampling}
        assert set(found) == set(QUICK_METHODS), sampling
        assert found["ode"]["observed"] == found["linear"]["observed"] == 4
        assert found["ode"]["heldout"] == 9
        # --quick observes e4e codes; the reference refines the held-out frames (hybrid)
        assert found[REFERENCE]["latent_mse"] > 0
        assert found[REFERENCE]["inversion"].startswith("hybrid, 30 optimisation steps")
        assert found["crossfade"]["latent_mse"] is None  # a pixel method has no codes
        best = max((r for r in found.values() if r["kind"] in ("latent", "reference")),
                   key=lambda r: r["psnr"])
        assert best["method"] == REFERENCE, [(m, r["psnr"]) for m, r in found.items()]
    extrap = {r["method"] for r in rows if r["task"] == "extrapolate"}
    assert extrap == {"linear", "ode", REFERENCE, "hold-last", "constant-velocity"}
    assert any("extrapolation" in t["target"] for t in data["targets"])
    # outputs are never overwritten without --overwrite (checked before any work)
    again = CliRunner().invoke(_cli(), args)
    assert again.exit_code == 1 and "exists" in again.output


def test_inverted_heldout_bounds_every_latent_method():
    """The reference is an upper bound: no latent method (nor latent extrapolation baseline)
    beats its PSNR on the held-out frames, with no slack, in any sampling or extrapolation.
    The observed frames get only 10 refine steps; when the reference was that same inversion,
    smooth fits through the observed codes beat it in 6 of these 10 groups (by up to 0.48 dB:
    pchip, spin every 4th)."""
    from dynode_shapes.bench.common import BenchConfig
    from dynode_shapes.bench.interpolate import run_interpolate

    methods = ("linear", "cubic", "pchip", "ode", "cde", REFERENCE)
    config = BenchConfig(motions=("circle", "spin"), frames=9, every=(2, 4), irregular=True,
                         methods=methods, inverter="hybrid", inversion_steps=10,
                         reference_steps=100, options={"ode": {"iterations": 15}})
    rows = run_interpolate(config)
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["task"], row["motion"], row["sampling"]), {})[row["method"]] = row
    assert len(groups) == 2 * 5  # two motions: 2 regular, 2 irregular samplings, extrapolation
    for key, found in groups.items():
        extra = {"hold-last", "constant-velocity"} if key[0] == "extrapolate" else set()
        assert set(found) == {*methods, *extra}, key  # latent-space predictors, all of them
        reference = found.pop(REFERENCE)
        beaten = {m: round(r["psnr"] - reference["psnr"], 3) for m, r in found.items()
                  if r["psnr"] > reference["psnr"]}
        assert not beaten, (key, beaten)
        assert reference["inversion"].startswith("hybrid, 100 optimisation steps; held-out")
        assert reference["seconds"] > 0 and reference["latent_mse"] > 0


def test_reference_inverter_is_never_weaker_than_the_observed():
    from dynode_shapes.bench.common import Bench, BenchConfig

    def reference(**given):
        return Bench(BenchConfig(motions=("circle",), **given)).reference_inverter()

    inverter, same, label = reference(inverter="hybrid", inversion_steps=20, reference_steps=5)
    assert same and label == "hybrid, 20 optimisation steps; the observed frames' own inversion"
    inverter, same, label = reference(reference_steps=7)  # e4e by default: refined by hybrid
    assert not same and label.startswith("hybrid, 7 optimisation steps; held-out frames")
    assert inverter.config["optim"]["steps"] == 7
    inverter, same, _ = reference(inverter="optim", inversion_steps=3, reference_steps=9)
    assert not same and inverter.config["name"] == "optim" and inverter.config["steps"] == 9


def test_edit_bench_tiny(tmp_path):
    from dynode_shapes.bench.common import Bench, BenchConfig
    from dynode_shapes.bench.edit import run_edit

    config = BenchConfig(motions=("circle",), frames=9, methods=("linear",), edits=("size",),
                         samples=24, cache=str(tmp_path / "cache"))
    bench = Bench(config)
    rows = run_edit(config, bench=bench)
    by = {(r["method"], r["strategy"]): r for r in rows}
    assert set(by) == {("inverted-edited", "-"), ("no-edit", "-"), ("linear", "dynamics"),
                       ("linear", "offset"), ("linear", "ivp")}
    for row in rows:
        assert np.isfinite(row["psnr"]) and row["flicker_ratio"] > 0
        assert row["edit_error_unit"] == "px"
    assert by[("inverted-edited", "-")]["latent_mse"] == 0.0
    # shapes64's named size direction, at the strength that makes frame 0 1.3 times larger
    truth, edited = bench.clip("circle"), bench.clip("circle", "size")
    expected = 0.3 * float(truth.factors.size[0]) / 0.05
    assert rows[0]["direction"] == "named" and rows[0]["strength"] == pytest.approx(expected)
    add_comparisons(rows)
    assert by[("linear", "offset")]["beats_baseline"] == "-"
    verdicts = [t for t in targets(rows) if t["target"].startswith("dynamics propagation")]
    assert len(verdicts) == 1 and "motion" in verdicts[0]["value"]
    assert verdicts[0]["met"] == (by[("linear", "dynamics")]["position_px"] <= 1.5
                                  and by[("linear", "dynamics")]["flicker_ratio"] <= 1.2)
    # a generator without named directions gets one fitted from the regressor (cached)
    from dynode_shapes.bench.edit import edit_for

    bench.generator.named_directions = lambda: {}
    edit, info = edit_for(bench, "size", truth, edited)
    cached = list((tmp_path / "cache" / "directions").glob("*.safetensors"))
    assert len(cached) == 1 and info["direction"] == "fitted"
    assert isinstance(info["strength_capped"], bool) and info["strength"] >= 0
    again, _ = edit_for(bench, "size", truth, edited)
    assert torch.equal(again.direction.vector, edit.direction.vector)


def test_samplings_regular_and_irregular():
    plans = samplings(13, (4,), irregular=True, seed=3)
    regular, irregular = plans
    assert regular.observed.tolist() == [0, 4, 8, 12]
    assert regular.heldout.tolist() == [1, 2, 3, 5, 6, 7, 9, 10, 11]
    assert len(irregular.observed) == 4 and irregular.irregular
    assert irregular.observed[0] == 0 and irregular.observed[-1] == 12
    assert sorted(set(irregular.observed) | set(irregular.heldout)) == list(range(13))
    again = samplings(13, (4,), irregular=True, seed=3)[1]
    assert again.observed.tolist() == irregular.observed.tolist()
    assert samplings(14, (4,))[0].heldout.max() == 11  # frame 13 lies past the last observed
    with pytest.raises(InputError, match="no held-out"):
        samplings(13, (1,))
    with pytest.raises(InputError, match="one observed"):
        samplings(5, (8,))


def test_pixel_baselines():
    times = torch.arange(5, dtype=torch.float64)
    frames = np.stack([np.full((2, 2, 3), 40 * i, np.uint8) for i in range(5)])
    observed, held = np.array([0, 4]), np.array([1, 2, 3])
    fade = PIXEL["crossfade"](times, frames, observed, held)
    assert fade[:, 0, 0, 0].tolist() == [40, 80, 120]  # exact linear mix of frames 0 and 4
    nearest = PIXEL["nearest-frame"](times, frames, observed, held)
    assert nearest[:, 0, 0, 0].tolist() == [0, 0, 160]


def test_methods_and_kinds():
    names = resolve_methods(None)
    assert {"linear", "ode", *PIXEL, REFERENCE} <= set(names)
    assert method_kind("ode") == "latent" and method_kind("crossfade") == "pixel"
    assert method_kind("hold-last") == "baseline"
    with pytest.raises(InputError, match="valid methods"):
        resolve_methods(["nope"])


def test_comparisons_and_targets():
    def row(task, method, psnr, kind="latent", motion="circle", sampling="every 4"):
        return {"task": task, "motion": motion, "sampling": sampling, "method": method,
                "kind": kind, "psnr": psnr}

    rows = [row("interpolate", "linear", 20.0), row("interpolate", "ode", 21.5),
            row("interpolate", "crossfade", 19.0, "pixel"),
            row("extrapolate", "ode", 18.0, sampling="last 8"),
            row("extrapolate", "hold-last", 18.5, "baseline", sampling="last 8"),
            row("extrapolate", "constant-velocity", 17.0, "baseline", sampling="last 8")]
    add_comparisons(rows)
    assert rows[1]["beats_baseline"] == "yes" and rows[1]["vs_baseline_db"] == pytest.approx(1.5)
    assert rows[2]["beats_baseline"] == "no" and rows[0]["beats_baseline"] == "-"
    assert rows[3]["baseline"] == "hold-last" and rows[3]["beats_baseline"] == "no"
    found = {t["target"].split(",")[0]: t["met"] for t in targets(rows)}
    assert found["ode beats linear by >= 1 dB"] is True
    assert found["ode extrapolation (last 8) beats hold-last and constant-velocity"] is False


@pytest.mark.parametrize("args, message", [
    (["--methods", "linear,nope"], "valid methods"),
    (["--motions", "circle,wobble"], "valid motions"),
    (["--every", "1"], "integers >= 2"),
    (["--option", "iterations=3"], "METHOD.KEY=VALUE"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    result = CliRunner().invoke(_cli(), ["bench", "interpolate", "--out", str(tmp_path), *args])
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output and not list(tmp_path.iterdir())
