"""The run's stages and the pipeline hooks, through the real ``run_pipeline``."""

import pytest
import torch

from dynode_core import (InputError, LatentTrajectory, RunConfig, Stage, Stages, hookimpl,
                         result_of, run_pipeline)
from dynode_core.plugins import DynodePluginManager, get_plugin_manager
from dynode_core.run.runner import StageRunner

SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu", edits=["sefa:0:2"])
ORDER = ["read", "align", "invert", "fit", "interpolate", "edit", "render", "write"]


class Recorder:
    def __init__(self):
        self.before, self.after = [], []

    @hookimpl
    def before_stage(self, stage, data, context):
        self.before.append((stage, data))

    @hookimpl
    def after_stage(self, stage, result, context):
        self.after.append((stage, result))
        assert context.results.get(stage) is None  # kept only after every hook ran


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    from dynode_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    rec = Recorder()
    get_plugin_manager().register(rec, name="recorder")
    result = run_pipeline(RunConfig(out=str(tmp_path_factory.mktemp("p") / "run"), **SMALL),
                          progress=False)
    reset_plugin_manager()
    return rec, result


def test_hooks_see_every_stage_in_order(recorded):
    rec, _ = recorded
    assert [s for s, _ in rec.before] == ORDER and [s for s, _ in rec.after] == ORDER


def test_hook_before_stage_receives_the_input_each_stage_is_documented_to_take(recorded):
    rec, result = recorded
    data = dict(rec.before)
    out = dict(rec.after)
    assert data["read"].frames == 6  # the probe
    assert data["invert"] is out["read"]
    assert data["fit"] is out["invert"] and isinstance(data["fit"], LatentTrajectory)
    assert data["interpolate"] is out["fit"] and data["edit"] is out["fit"]
    plan = data["render"]
    assert list(plan) == ["reconstruction", "interpolated", "edited_sefa-0-2"]
    assert plan["edited_sefa-0-2"].codes is out["edit"]["sefa-0-2"]
    assert plan["interpolated"].codes is out["interpolate"]["interpolated"].latents
    assert data["write"] is out["render"]
    assert result.trajectory is out["invert"]


class ReplaceEdit:
    """Replaces the edit result: what render renders and write saves must follow."""

    @hookimpl
    def after_stage(self, stage, result, context):
        if stage == "edit":
            codes = context.results["invert"].latents.flip(0)
            return {"reversed": codes}
        return None


def test_hook_after_stage_replacement_is_what_the_next_stages_use(tmp_path):
    get_plugin_manager().register(ReplaceEdit(), name="replace")
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), **SMALL), progress=False)
    assert list(result.edited) == ["reversed"]
    assert (tmp_path / "run" / "edited_reversed.mp4").is_file()
    assert not (tmp_path / "run" / "edited_sefa-0-2.mp4").exists()
    saved = LatentTrajectory.load(tmp_path / "run" / "edited_reversed.safetensors")
    assert torch.equal(saved.latents, result.trajectory.latents.flip(0))


class CountFrames:
    """Adds a stage after invert: its result is kept and timed like the others."""

    def __init__(self):
        self.order = []

    @hookimpl
    def add_stages(self, stages):
        stages.add(Stage("count", lambda ctx, traj: len(traj), take=result_of("invert")),
                   after="invert")

    @hookimpl
    def before_stage(self, stage):
        self.order.append(stage)


def test_hook_add_stages_adds_a_step(tmp_path):
    plugin = CountFrames()
    get_plugin_manager().register(plugin, name="count")
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), **SMALL), progress=False)
    assert plugin.order == ["read", "align", "invert", "count", *ORDER[3:]]
    assert result.metrics["stages"]["count"]["seconds"] >= 0


class AddOne:
    @hookimpl
    def after_stage(self, stage, result):
        return result + 1 if stage == "fit" else None


class Double:
    @hookimpl
    def after_stage(self, stage, result):
        return result * 2 if stage == "fit" else None


def test_replacements_chain_in_call_order():
    from types import SimpleNamespace

    pm = DynodePluginManager()
    pm.register(AddOne(), name="add")  # registered first: called last
    pm.register(Double(), name="double")
    ctx = SimpleNamespace(results={"invert": 3}, stages={})
    stages = Stages([Stage("fit", lambda ctx, data: data, take=result_of("invert")),
                     Stage("next", lambda ctx, data: data, take=result_of("fit"))])
    StageRunner(pm).run_all(stages, ctx)
    assert ctx.results == {"invert": 3, "fit": 7, "next": 7}


def test_a_stage_placed_next_to_an_unknown_one_is_refused():
    stages = Stages([Stage("read", lambda ctx, data: data)])
    with pytest.raises(InputError, match="unknown stage 'invent'; valid stages: read"):
        stages.add(Stage("x", lambda ctx, data: data), after="invent")
    with pytest.raises(InputError, match="in the run already"):
        stages.add(Stage("read", lambda ctx, data: data))
