"""The example plugin tested the way a third-party author would: only dynode_core's
public API and dynode_core.testing."""

import json
import sys

import torch

from dynode_core import LatentTrajectory, RunConfig, hookimpl
from dynode_core.testing import check_dynamics, run_cli, run_with_plugins

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import dynode_plugin_example
from dynode_plugin_example.hold import HoldDynamics


def test_hold_passes_the_dynamics_conformance_checks():
    check_dynamics(HoldDynamics)


def test_hold_returns_latest_observed_code():
    traj = LatentTrajectory(torch.tensor([0.0, 1.0, 2.0]), torch.arange(6.0).reshape(3, 1, 2))
    model = HoldDynamics().fit(traj)
    out = model.predict([0.0, 0.5, 1.0, 1.99, 5.0])
    assert torch.equal(out[:, 0, 0], torch.tensor([0.0, 0.0, 2.0, 2.0, 4.0]))


class AskForSmoothing:
    """How a run asks for the example's smoothing: a key in the run context."""

    @hookimpl
    def before_stage(self, stage, context):
        if stage == "read":
            context["example_smoothing"] = 0.5


def _run(out, *plugins):
    return run_with_plugins(RunConfig(out=str(out), demo_frames=4, inversion_steps=1,
                                      dynamics="hold", interpolate=2, device="cpu"), *plugins)


def test_smoothing_hook_replaces_the_invert_result_only(tmp_path):
    from dynode_plugin_example.hold import smooth_trajectory

    plain = _run(tmp_path / "plain")  # the entry point is loaded, but no smoothing asked
    smoothed = _run(tmp_path / "smoothed", AskForSmoothing())
    expected = smooth_trajectory(plain.trajectory, 0.5)
    assert torch.equal(smoothed.trajectory.latents, expected.latents)
    saved = LatentTrajectory.load(tmp_path / "smoothed" / "latents.safetensors")
    assert torch.equal(saved.latents, expected.latents)  # what the run keeps is the replacement


QUICK = ["world:circle:6", "--inversion-steps", "1", "--dynamics", "linear",
         "--interpolate", "2", "--device", "cpu", "--quiet"]


def test_the_speed_stage_from_help_through_config_resume_and_metrics(tmp_path):
    """The stage's one option, as a user meets it: in --help, on the command line, in
    config.toml, kept by --resume (which reuses the stage's file) and in metrics.json."""
    assert "--speed-window" in run_cli("run", "--help").stdout
    out = tmp_path / "run"
    done = run_cli("run", *QUICK, "--speed-window", "3", "--out", out)
    assert done.returncode == 0, done.stderr
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["stages"]["speed"] == {"speed_window": 3}
    metrics = json.loads((out / "metrics.json").read_text())
    speed = json.loads((out / "speed.json").read_text())
    assert metrics["speed"]["window"] == 3 and len(speed["per_second"]) == 5 - 3 + 1
    assert metrics["speed"]["max"] == max(speed["per_second"]) > 0
    assert "speed" in metrics["stages"]  # it ran as a stage, timed like the others

    measured = (out / "speed.json").read_text()
    (out / "speed.json").write_text(json.dumps({"window": 3, "per_second": [7.0, 9.0]}))
    again = run_cli("run", *QUICK, "--speed-window", "3", "--out", out, "--resume")
    assert again.returncode == 0, again.stderr
    resumed = json.loads((out / "metrics.json").read_text())["speed"]
    assert (resumed["mean"], resumed["max"]) == (8.0, 9.0)  # read back, not measured again
    other = run_cli("run", *QUICK, "--speed-window", "4", "--out", out, "--resume")
    assert other.returncode != 0 and "speed_window" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1  # one line, no traceback

    copy = run_cli("run", "--config", out / "config.toml", "--out", tmp_path / "copy", "--quiet")
    assert copy.returncode == 0, copy.stderr
    assert (tmp_path / "copy" / "speed.json").read_text() == measured  # config.toml reproduces


def test_the_speed_stage_refuses_a_bad_window_before_any_work(tmp_path):
    bad = run_cli("run", *QUICK, "--speed-window", "0", "--out", tmp_path / "run")
    assert bad.returncode == 2 and "--speed-window" in bad.stderr
    assert not (tmp_path / "run").exists()


def test_without_the_option_the_stage_stays_out_of_the_run(tmp_path):
    result = _run(tmp_path / "plain")
    assert "speed" not in result.metrics and not (tmp_path / "plain" / "speed.json").exists()
