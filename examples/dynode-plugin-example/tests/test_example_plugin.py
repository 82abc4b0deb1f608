"""The example plugin tested the way a third-party author would."""

import torch

from dynode_core.pipeline import StageRunner
from dynode_core.plugins import DynodePluginManager
from dynode_core.testing import check_dynamics
from dynode_core.trajectory import LatentTrajectory

import dynode_plugin_example
from dynode_plugin_example.hold import HoldDynamics


def test_hold_passes_the_dynamics_conformance_checks():
    check_dynamics(HoldDynamics)


def test_hold_returns_latest_observed_code():
    traj = LatentTrajectory(torch.tensor([0.0, 1.0, 2.0]), torch.arange(6.0).reshape(3, 1, 2))
    model = HoldDynamics().fit(traj)
    out = model.predict([0.0, 0.5, 1.0, 1.99, 5.0])
    assert torch.equal(out[:, 0, 0], torch.tensor([0.0, 0.0, 2.0, 2.0, 4.0]))


def test_smoothing_hook_replaces_the_invert_result_only():
    pm = DynodePluginManager()
    pm.register(dynode_plugin_example, name="example")
    runner = StageRunner(pm, context={"example_smoothing": 0.5})
    traj = LatentTrajectory(torch.tensor([0.0, 1.0]), torch.tensor([[[0.0]], [[2.0]]]))
    out = runner.run("invert", lambda _: traj)
    assert out.latents[1, 0, 0].item() == 1.0
    assert runner.run("fit", lambda _: traj) is traj
