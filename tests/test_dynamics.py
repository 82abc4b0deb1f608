"""The bundled dynamics: conformance, keyframes, save/load, propagation, errors and CLI."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from dynode_core.dynamics_io import load_dynamics, save_dynamics
from dynode_core.errors import DynodeError, InputError
from dynode_core.io import OutputError
from dynode_core.plugins import get_registry
from dynode_core.testing import check_dynamics, tiny_trajectory
from dynode_core.trajectory import LatentTrajectory, TrajectoryError
from dynode_dynamics import model_class

#: Small settings so every learned model fits in about a second here.
FAST = {
    "ode": {"iterations": 20, "width": 32, "pretrain": 20},
    "dynode-paper": {"iterations": 3, "width": 32, "rtol": 1e-4, "atol": 1e-5},
    "sde": {"iterations": 5, "width": 16, "pretrain": 20, "calibration_samples": 8},
    "cde": {"iterations": 5, "width": 16},
    "linear": {}, "cubic": {}, "pchip": {},
}


def make(name: str, **options):
    return get_registry().create("dynamics", name, **{**FAST[name], **options})


@pytest.fixture(scope="module")
def traj():
    return tiny_trajectory(frames=8)


def test_every_bundled_model_is_registered():
    bundled = {c.name for c in get_registry().components("dynamics")
               if c.plugin == "dynode_dynamics"}
    assert set(FAST) == bundled  # a new bundled model cannot escape the checks


@pytest.mark.parametrize("name", sorted(FAST))
def test_conformance(name):
    check_dynamics(get_registry().get("dynamics", name).factory, **FAST[name])


def test_ode_without_endpoint_mode_passes_conformance():
    check_dynamics(get_registry().get("dynamics", "ode").factory, endpoint="none", **FAST["ode"])


def test_check_dynamics_names_the_broken_rule(traj):
    from dynode_dynamics.linear import LinearDynamics

    class Drifting(LinearDynamics):  # propagate ignores its start: breaks a rule
        def _propagate(self, y0, s):
            return self.net(s) + 1.0

    with pytest.raises(AssertionError, match="propagate from the start"):
        check_dynamics(Drifting)


@pytest.mark.parametrize("options", [
    {"endpoint": "correction"}, {"endpoint": "blend"},
    {"endpoint": "correction", "max_components": 3},  # lossy basis: keyframe residual
])
def test_endpoint_modes_pass_through_every_keyframe(traj, options):
    model = make("ode", **options).fit(traj)
    out = model.predict(traj.times)
    scale = traj.latents.abs().max()
    assert (out - traj.latents).abs().max() <= 1e-4 * scale


@pytest.mark.parametrize("name", ["ode", "sde", "cde", "dynode-paper", "cubic"])
def test_save_load_reproduces_predictions_exactly(traj, name, tmp_path):
    model = make(name).fit(traj)
    times = torch.linspace(float(traj.times[0]), float(traj.times[-1]) * 1.2, 17)
    save_dynamics(model, name, tmp_path / "dyn")
    doc = json.loads((tmp_path / "dyn" / "dynamics.json").read_text())
    assert doc["format"] == "dynode.dynamics/1" and doc["component"] == name
    assert doc["trajectory"]["meta"] == traj.meta
    loaded = load_dynamics(tmp_path / "dyn")
    assert torch.equal(loaded.predict(times), model.predict(times))
    with pytest.raises(OutputError, match="already holds"):
        save_dynamics(model, name, tmp_path / "dyn")


def test_load_refuses_other_formats(tmp_path):
    (tmp_path / "dynamics.json").write_text(json.dumps({"format": "dynode.dynamics/99"}))
    with pytest.raises(InputError, match="not readable"):
        load_dynamics(tmp_path)
    with pytest.raises(InputError, match="no fitted dynamics"):
        load_dynamics(tmp_path / "missing")


def test_propagate_from_the_start_reproduces_predict(traj):
    model = make("ode", endpoint="none").fit(traj)
    times = torch.linspace(0.0, float(traj.times[-1]) * 1.25, 25)
    assert torch.allclose(model.propagate(traj.latents[0], times), model.predict(times),
                          atol=1e-4 * float(traj.latents.abs().max()))


def test_edit_outside_the_span_is_carried_as_a_constant(traj):
    model = make("ode", endpoint="none").fit(traj)
    basis = model.space.basis
    edit = torch.randn(basis.shape[1], generator=torch.Generator().manual_seed(1))
    edit = (edit - (edit @ basis.T) @ basis).reshape(traj.latents.shape[1:])
    times = traj.times
    moved = model.propagate(traj.latents[0] + edit, times) - model.propagate(traj.latents[0], times)
    assert torch.allclose(moved, edit.expand_as(moved), atol=1e-4 * float(edit.abs().max()))


def test_cde_edit_keeps_the_original_motion(traj):
    model = make("cde", drop=0.0).fit(traj)  # untrained correction: follows the control path
    edit = 0.3 * torch.ones_like(traj.latents[0])
    moved = model.propagate(traj.latents[0] + edit, traj.times) - model.predict(traj.times)
    assert torch.allclose(moved, edit.expand_as(moved), atol=1e-4)


def test_sde_samples_pass_the_keyframes_and_vary_between_them(traj):
    model = make("sde").fit(traj)
    mid = (traj.times[1:] + traj.times[:-1]) / 2
    paths = model.sample(torch.cat([traj.times, mid]), 3)
    assert paths.shape == (3, 2 * len(traj) - 1, traj.num_layers, traj.dim)
    scale = float(traj.latents.abs().max())
    assert torch.allclose(paths[:, :len(traj)], traj.latents.expand(3, -1, -1, -1),
                          atol=1e-4 * scale)
    assert (paths[0, len(traj):] - paths[1, len(traj):]).abs().max() > 1e-3 * scale
    assert model.fit_stats["sigma"] > 0
    # the mean dynamics: sde predicts what ode predicts with the same options
    ode = make("ode", **{k: v for k, v in FAST["sde"].items() if k in FAST["ode"]}).fit(traj)
    assert torch.allclose(model.predict(mid), ode.predict(mid), atol=1e-5 * scale)
    nudged = model.propagate(traj.latents[0] + 1e-3, traj.times)
    assert (nudged - model.propagate(traj.latents[0], traj.times)).abs().max() < 1e-2


def test_paper_field_has_unit_speed_over_layers(traj):
    model = make("dynode-paper").fit(traj)
    speed = model.net(traj.latents[3]).norm(dim=-2)
    assert torch.allclose(speed, torch.ones_like(speed), atol=1e-4)


def test_bad_inputs_give_clear_errors(traj):
    with pytest.raises(TrajectoryError, match="finite"):
        LatentTrajectory(traj.times, traj.latents.clone().index_fill_(0, torch.tensor([2]),
                                                                      float("nan")))
    with pytest.raises(TrajectoryError, match="increasing"):
        LatentTrajectory(traj.times.flip(0), traj.latents)
    model = make("linear")
    with pytest.raises(InputError, match="LatentTrajectory"):
        model.fit(traj.latents)
    with pytest.raises(InputError, match="not fitted"):
        model.predict([0.0])
    model.fit(traj)
    with pytest.raises(InputError, match="finite"):
        model.predict([0.0, float("inf")])
    with pytest.raises(InputError, match="shape"):
        model.propagate(torch.zeros(3), [0.0])
    with pytest.raises(InputError, match="unknown option"):
        model_class("ode")(wings=2)
    with pytest.raises(InputError, match="endpoint"):
        model_class("ode")(endpoint="teleport")
    with pytest.raises(InputError, match="before the first"):
        make("cde").fit(traj).predict([-1.0])


def test_solver_failures_become_dynode_errors():
    from torchdiffeq import odeint

    from dynode_dynamics.training import optimise, solver_errors

    with pytest.raises(DynodeError, match="underflow"):  # dy/dt = y^2 blows up at t = 1
        with solver_errors("ode", "lower lr"):
            odeint(lambda t, y: y * y, torch.ones(1), torch.tensor([0.0, 2.0]))
    weight = torch.nn.Parameter(torch.ones(1))
    with pytest.raises(DynodeError, match="loss became nan"):
        optimise([weight], lambda step: (weight * float("nan"), 0.0), component="ode",
                 iterations=3, lr=1e-3, progress=lambda *a, **k: None)


def test_fit_is_deterministic_and_reports_progress(traj):
    calls = []
    a = make("ode").fit(traj, progress=lambda *args, **kw: calls.append((args, kw)))
    b = make("ode").fit(traj)
    assert torch.equal(a.predict(traj.times + 0.1), b.predict(traj.times + 0.1))
    assert calls[0][1]["total"] == FAST["ode"]["iterations"]
    assert any("loss" in (kw.get("description") or "") for _, kw in calls)
    assert sum(args[0] for args, _ in calls) == FAST["ode"]["iterations"]


# ------------------------------------------------------------------------ CLI
def _cli(*args):
    from dynode_core.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_fit_and_interpolate(traj, tmp_path):
    src = traj.with_latents(traj.latents, fps=2.0)
    src.save(tmp_path / "codes.safetensors")
    out = tmp_path / "fitted"
    res = _cli("fit", str(tmp_path / "codes.safetensors"), "--dynamics", "ode", "--out", str(out),
               "--seed", "3", "--device", "cpu", "-o", "iterations=10", "-o", "width=16",
               "--quiet")
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} >= {"dynamics.json", "state.safetensors",
                                              "trajectory.safetensors", "run.json"}
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 3 and run["config"]["iterations"] == 10 and run["versions"]["torch"]

    res = _cli("interpolate", str(out), "--factor", "4", "--out", str(tmp_path / "x4.safetensors"))
    assert res.exit_code == 0, res.output
    x4 = LatentTrajectory.load(tmp_path / "x4.safetensors")
    assert len(x4) == 4 * (len(traj) - 1) + 1 and x4.meta["fps"] == 8.0
    assert torch.allclose(x4.times[::4], traj.times)
    assert float(x4.times[-1]) == float(traj.times[-1])

    res = _cli("interpolate", str(out), "--times", "0.1,0.35,9", "--out",
               str(tmp_path / "t.safetensors"))
    assert res.exit_code == 0, res.output
    assert LatentTrajectory.load(tmp_path / "t.safetensors").times.tolist() == [0.1, 0.35, 9.0]

    res = _cli("interpolate", str(out), "--factor", "2", "--extrapolate", "1.0", "--out",
               str(tmp_path / "ex.safetensors"))
    ex = LatentTrajectory.load(tmp_path / "ex.safetensors")
    assert len(ex) > 2 * (len(traj) - 1) + 1 and float(ex.times[-1]) > float(traj.times[-1])

    res = _cli("interpolate", str(out), "--factor", "4", "--out", str(tmp_path / "x4.safetensors"))
    assert res.exit_code == 1 and "--overwrite" in res.output
    res = _cli("fit", str(tmp_path / "codes.safetensors"), "--out", str(out), "--quiet")
    assert res.exit_code == 1 and "--overwrite" in res.output


def test_cli_fit_bare_tensor_with_fps(traj, tmp_path):
    torch.save(traj.latents[:, None], tmp_path / "codes.pt")
    res = _cli("fit", str(tmp_path / "codes.pt"), "--dynamics", "linear", "--fps", "10",
               "--out", str(tmp_path / "lin"), "--quiet")
    assert res.exit_code == 0, res.output
    res = _cli("interpolate", str(tmp_path / "lin"), "--factor", "3", "--out",
               str(tmp_path / "x3.safetensors"))
    x3 = LatentTrajectory.load(tmp_path / "x3.safetensors")
    assert len(x3) == 3 * (len(traj) - 1) + 1 and x3.meta["fps"] == 30.0
    assert float(x3.times[-1]) == pytest.approx((len(traj) - 1) / 10)


def test_cli_bad_dynamics_name_lists_valid_names(traj, tmp_path):
    traj.save(tmp_path / "codes.safetensors")
    res = _cli("fit", str(tmp_path / "codes.safetensors"), "--dynamics", "warp", "--out",
               str(tmp_path / "o"))
    assert res.exit_code == 2
    for name in ("ode", "sde", "cde", "linear", "cubic", "pchip", "dynode-paper"):
        assert name in res.output


def test_a_first_order_ode_saved_before_order_existed_still_loads(traj, tmp_path):
    model = make("ode", order=1).fit(traj)
    save_dynamics(model, "ode", tmp_path / "dyn")
    doc_path = tmp_path / "dyn" / "dynamics.json"
    doc = json.loads(doc_path.read_text())
    del doc["config"]["order"]  # as written by earlier versions
    doc_path.write_text(json.dumps(doc))
    loaded = load_dynamics(tmp_path / "dyn")
    times = traj.times + 0.1
    assert torch.equal(loaded.predict(times), model.predict(times))
