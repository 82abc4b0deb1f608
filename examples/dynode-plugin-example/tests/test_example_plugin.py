"""The example plugin tested the way a third-party author would."""

import torch

from dynode_core import LatentTrajectory, RunConfig, hookimpl, run_pipeline
from dynode_core.testing import check_dynamics

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
    from dynode_core.plugins import get_plugin_manager, reset_plugin_manager

    reset_plugin_manager()
    for plugin in plugins:
        get_plugin_manager().register(plugin)
    try:
        return run_pipeline(RunConfig(out=str(out), demo_frames=4, inversion_steps=1,
                                      dynamics="hold", interpolate=2, device="cpu"),
                            progress=False)
    finally:
        reset_plugin_manager()


def test_smoothing_hook_replaces_the_invert_result_only(tmp_path):
    from dynode_plugin_example.hold import smooth_trajectory

    plain = _run(tmp_path / "plain")  # the entry point is loaded, but no smoothing asked
    smoothed = _run(tmp_path / "smoothed", AskForSmoothing())
    expected = smooth_trajectory(plain.trajectory, 0.5)
    assert torch.equal(smoothed.trajectory.latents, expected.latents)
    saved = LatentTrajectory.load(tmp_path / "smoothed" / "latents.safetensors")
    assert torch.equal(saved.latents, expected.latents)  # what the run keeps is the replacement
