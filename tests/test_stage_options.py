"""A stage owns its settings: declared once, they reach --help, config.toml, manifests and
the run; component options (-o KIND.KEY=VALUE) reach the components and config.toml."""

import sys
import warnings

import pytest
import tomli_w

from dynode_core import InputError, RunConfig, Stage, StageOption, hookimpl, result_of
from dynode_core.testing import run_cli, run_with_plugins

from conftest import run_dynode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

QUICK = dict(demo_frames=4, inversion_steps=1, dynamics="linear", interpolate=2, device="cpu")


class CountStage:
    """A plugin stage with one integer option and a metrics section."""

    @hookimpl
    def add_stages(self, stages):
        option = StageOption("count_limit", int, minimum=1, maximum=10, help="at most N")
        stages.add(Stage("count", lambda ctx, traj: min(len(traj), ctx.settings["count_limit"]),
                         take=result_of("invert"), options=(option,),
                         active=lambda s: s["count_limit"] is not None,
                         metrics=lambda ctx: {"counted": ctx.results["count"]}),
                   after="invert")


def test_a_plugin_stage_option_reaches_the_run_config_and_metrics(tmp_path):
    result = run_with_plugins(RunConfig(out=str(tmp_path / "run"), count_limit=3, **QUICK),
                              CountStage())
    assert result.metrics["count"] == {"counted": 3}
    doc = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert doc["format"] == "dynode.run/2" and doc["stages"]["count"] == {"count_limit": 3}


@pytest.mark.parametrize("value, message", [
    (0, "count_limit must be an integer between 1 and 10, got 0"),
    (float("nan"), "count_limit must be an integer between 1 and 10, got nan"),
    ("3", "count_limit must be an integer between 1 and 10, got '3'"),
])
def test_a_bad_stage_setting_fails_before_any_work(tmp_path, value, message):
    with pytest.raises(InputError, match=message):
        run_with_plugins(RunConfig(out=str(tmp_path / "run"), count_limit=value, **QUICK),
                         CountStage())
    assert not (tmp_path / "run").exists()


def test_a_setting_no_stage_declares_is_refused_listing_the_valid_ones(tmp_path):
    with pytest.raises(InputError, match=r"unknown stage settings coutn_limit; .*tune_steps"):
        run_with_plugins(RunConfig(out=str(tmp_path / "run"), coutn_limit=3, **QUICK))


def test_a_tuned_run_records_its_stage_table_and_reloads_it(tmp_path):
    config = RunConfig(out=str(tmp_path / "run"), tune="pti", tune_steps=2, align="center")
    text = config.to_toml(__import__("dynode_core.run", fromlist=["run_stages"]).run_stages())
    doc = tomllib.loads(text)
    assert doc["stages"] == {"tune": {"tune": "pti", "tune_steps": 2},
                             "align": {"align": "center"}}
    (tmp_path / "config.toml").write_text(text)
    assert RunConfig.from_toml(tmp_path / "config.toml") == config


def test_a_config_of_the_earlier_format_still_loads(tmp_path):
    old = {"format": "dynode.run/1", "run": {"demo_frames": 8, "align": "center",
                                             "face_index": 0, "tune": "pti", "tune_steps": 3}}
    (tmp_path / "config.toml").write_text(tomli_w.dumps(old))
    config = RunConfig.from_toml(tmp_path / "config.toml")
    assert config.demo_frames == 8
    assert config.stage_options == {"align": "center", "face_index": 0, "tune": "pti",
                                    "tune_steps": 3}


def test_component_options_reach_the_component_and_config_toml(tmp_path):
    out = tmp_path / "run"
    proc = run_dynode("run", "world:circle:4", "--inversion-steps", "1", "--dynamics", "ode",
                      "-o", "dynamics.iterations=3", "-o", "dynamics.pretrain=0",
                      "--interpolate", "2", "--device", "cpu", "--quiet", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = tomllib.loads((out / "config.toml").read_text())
    assert doc["options"] == {"dynamics": {"iterations": 3, "pretrain": 0}}
    import json

    fitted = json.loads((out / "dynamics" / "dynamics.json").read_text())
    assert fitted["config"]["iterations"] == 3  # the model was built with it


def test_a_component_option_for_an_unknown_kind_is_one_line(tmp_path):
    proc = run_dynode("run", "-o", "dynamcis.iterations=3", "--out", str(tmp_path / "run"))
    assert proc.returncode != 0 and "KIND one of generator, inverter, dynamics" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()


class Misspelled:
    @hookimpl
    def add_stage(self, stages):  # the hook is add_stages
        raise AssertionError("never called")


def test_a_misspelled_hook_warns_once_and_everything_else_works(tmp_path):
    from dynode_core.plugins import PluginLoadWarning, check_unknown_hooks, get_plugin_manager
    from dynode_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    try:
        manager = get_plugin_manager()
        manager.register(Misspelled(), name="misspelled")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            check_unknown_hooks(manager)
        [warning] = [w for w in seen if issubclass(w.category, PluginLoadWarning)]
        assert "unknown hook 'add_stage'" in str(warning.message)
        assert "did you mean 'add_stages'?" in str(warning.message)
        assert ("generators", "shapes64") in manager.registry
    finally:
        reset_plugin_manager()


def test_dynode_run_help_lists_the_stages_options():
    help_text = run_cli("run", "--help").stdout
    for flag in ("--align", "--face-index", "--paste-back", "--tune", "--tune-steps"):
        assert flag in help_text, flag


def test_a_setting_of_a_stage_the_run_leaves_out_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"--tune-steps applies only when the tune stage runs "
                                         r"\(turned on by --tune\)"):
        run_with_plugins(RunConfig(out=str(tmp_path / "run"), tune_steps=5, **QUICK))
    assert not (tmp_path / "run").exists()


def test_the_inverters_steps_as_a_component_option(tmp_path):
    quick = {k: v for k, v in QUICK.items() if k != "inversion_steps"}
    result = run_with_plugins(RunConfig(out=str(tmp_path / "run"), inverter="optim",
                                        component_options={"inverter": {"steps": 1}}, **quick))
    assert result.metrics["frames"] == 4
    with pytest.raises(InputError, match="--inversion-steps or -o inverter.steps, not both"):
        run_with_plugins(RunConfig(out=str(tmp_path / "both"), inversion_steps=1,
                                   component_options={"inverter": {"steps": 1}}, **quick))
