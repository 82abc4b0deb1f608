"""Every number a user types goes through one validator: nan, inf, -1, 0 and a huge value,
fed to each numeric option through each way in (flags, config.toml, a manifest column,
-o component options), are either valid or refused with one line naming the option, the
value and the valid range; never a traceback, never a silent nan."""

from __future__ import annotations

import math

import pytest
import tomli_w
from click.testing import CliRunner

from dynode_core import InputError, RunConfig, check_number, get_registry
from dynode_core.run import NUMBERS

HOSTILE = [float("nan"), float("inf"), float("-inf"), -1, 0, 1e30]


def _accepted_or_one_line(make, value, name):
    """``make(value)`` either returns, or raises an InputError naming ``name`` in one line."""
    try:
        make(value)
    except InputError as exc:
        text = str(exc)
        assert "\n" not in text and name in text, text
        return False
    return True


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_the_validator_refuses_what_is_not_a_finite_number_in_range(value):
    ok = _accepted_or_one_line(lambda v: check_number("steps", v, kind=int, minimum=1,
                                                      maximum=100), value, "steps")
    assert not ok  # none of the hostile values is an integer in [1, 100]


@pytest.mark.parametrize("setting", sorted(NUMBERS))
@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_every_numeric_run_setting_in_python_and_config_toml(setting, value, tmp_path):
    kind, low, high = NUMBERS[setting]
    valid = math.isfinite(value) and low <= value <= high and (kind is float or value == int(value))
    assert _accepted_or_one_line(lambda v: RunConfig(**{setting: v}), value, setting) == valid
    if not math.isfinite(value):
        return  # TOML has nan and inf, but the Python path above already covers them
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps({"format": "dynode.run/2", "run": {setting: value}}))
    assert _accepted_or_one_line(lambda _: RunConfig.from_toml(path), value, setting) == valid


@pytest.mark.parametrize("flag", ["--interpolate", "--extrapolate", "--inversion-steps",
                                  "--seed", "--max-frames", "--max-output-frames",
                                  "--face-index", "--tune-steps"])
@pytest.mark.parametrize("text", ["nan", "inf", "-1", "1e30"])
def test_every_numeric_flag_of_dynode_run(flag, text, tmp_path):
    from dynode_core.cli import cli

    result = CliRunner().invoke(cli, ["run", flag, text, "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output  # refused as a bad value, before any work
    assert flag in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


#: Numeric options of the bundled components (kind, component, option).
COMPONENT_OPTIONS = [
    *[("tuners", "pti", o) for o in ("steps", "lr", "batch", "ssim_weight", "locality",
                                     "locality_samples", "locality_radius", "target_psnr",
                                     "checkpoint_every", "seed")],
    *[("inverters", "optim", o) for o in ("steps", "lr", "ssim_weight", "pull_weight",
                                          "latent_noise", "seed")],
    *[("dynamics", name, o) for name in ("ode", "sde", "cde", "dynode-paper")
      for o in ("iterations", "lr", "width", "depth", "rtol", "atol", "time_budget", "seed",
                "threads", "max_components")],
    *[("dynamics", "ode", o) for o in ("window", "batch", "substeps", "pretrain", "patience",
                                       "kinetic", "order", "rank")],
    *[("aligners", "face", o) for o in ("face_index", "smooth_center", "smooth_axes")],
]


@pytest.mark.parametrize("kind, name, option", COMPONENT_OPTIONS,
                         ids=[f"{k}:{n}:{o}" for k, n, o in COMPONENT_OPTIONS])
def test_every_numeric_component_option(kind, name, option):
    if kind == "aligners":
        pytest.importorskip("dlib", reason="the face aligner needs dlib: pip install -e '.[faces]'")
    for value in HOSTILE:
        try:
            get_registry().create(kind, name, **{option: value})
        except InputError as exc:
            assert "\n" not in str(exc) and option in str(exc), str(exc)
        else:
            assert math.isfinite(value) and 0 <= value < 1e9, f"{option}={value} was accepted"


@pytest.mark.parametrize("box", ["nan,0,10,10", "0,inf,10,10", "0,0,-5,10", "0,0,10,nan"])
def test_a_box_with_a_non_finite_or_empty_side_is_one_line(box):
    with pytest.raises(InputError, match="box:X,Y,W,H"):
        get_registry().create("aligners", "box", option=box)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e30"])
def test_a_numeric_manifest_column_is_checked(value, tmp_path):
    from dynode_core.app import read_manifest

    path = tmp_path / "m.csv"
    path.write_text(f"input,interpolate\nworld:circle:6,{value}\n")
    with pytest.raises(InputError, match="interpolate"):
        read_manifest(path)
