"""The stage runner and the pipeline hooks."""

import pytest

from dynode_core import hookimpl
from dynode_core.pipeline import StageRunner
from dynode_core.plugins import DynodePluginManager


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def before_stage(self, stage, data, context):
        self.calls.append(("before", stage, data))

    @hookimpl
    def after_stage(self, stage, result):
        self.calls.append(("after", stage, result))


class AddOne:
    @hookimpl
    def after_stage(self, stage, result):
        return result + 1 if stage == "fit" else None


class Double:
    @hookimpl
    def after_stage(self, stage, result):
        return result * 2 if stage == "fit" else None


def test_hooks_see_stage_data_and_timings_are_recorded():
    pm = DynodePluginManager()
    rec = Recorder()
    pm.register(rec, name="rec")
    runner = StageRunner(pm)
    out = runner.run("read", lambda data: data + ["frames"], ["video"])
    assert out == ["video", "frames"]
    assert rec.calls == [("before", "read", ["video"]), ("after", "read", ["video", "frames"])]
    assert runner.context["stages"]["read"]["seconds"] >= 0


def test_replacements_chain_in_call_order_and_feed_the_next_stage():
    pm = DynodePluginManager()
    pm.register(AddOne(), name="add")  # registered first: called last
    pm.register(Double(), name="double")
    runner = StageRunner(pm)
    fitted = runner.run("fit", lambda data: data, 3)
    assert fitted == 3 * 2 + 1
    seen = []
    runner.run("interpolate", lambda data: seen.append(data), fitted)
    assert seen == [7]


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="valid stages"):
        StageRunner(DynodePluginManager()).run("invent", lambda d: d)
