"""Reliability, one test per class of fault (issue 24): resume after an interruption in
any stage, checks before any work, bounded outputs, one line for every write failure,
one writer per run folder, plugin faults named."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dynode_core import InputError, OutputError, RunConfig, hookimpl, run_pipeline
from dynode_core.plugins import get_plugin_manager

from conftest import run_dynode

SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu", edits=["sefa:0:2"])
#: Files that may differ between two folders even when nothing else does: measured times
#: (metrics.json and the report built from it), the lock's pid, the config's own --out.
VARYING = {"metrics.json", "report.html", ".dynode-run.lock", "config.toml"}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in VARYING and "cache" not in p.parts}


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted run to compare with."""
    folder = tmp_path_factory.mktemp("whole") / "run"
    run_pipeline(RunConfig(out=str(folder), **SMALL), progress=False)
    return _files(folder)


class Interrupt:
    """Ctrl-C at the start of one stage."""

    def __init__(self, stage):
        self.stage = stage

    @hookimpl
    def before_stage(self, stage):
        if stage == self.stage:
            raise KeyboardInterrupt


@pytest.mark.parametrize("stage", ["invert", "fit", "interpolate", "edit", "render", "write"])
def test_resume_after_an_interruption_in_any_stage_equals_a_whole_run(tmp_path, whole, stage,
                                                                     monkeypatch):
    import dynode_core.dynamics_io as dynamics_io

    config = RunConfig(out=str(tmp_path / "run"), **SMALL)
    pm = get_plugin_manager()
    pm.register(Interrupt(stage), name="interrupt")
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config, progress=False)
    pm.unregister(name="interrupt")
    loads, real_load = [], dynamics_io.load_dynamics
    monkeypatch.setattr(dynamics_io, "load_dynamics",
                        lambda *a, **k: loads.append(1) or real_load(*a, **k))
    run_pipeline(config, resume=True, progress=False)
    assert _files(tmp_path / "run") == whole
    finished_fit = stage in ("interpolate", "edit", "render", "write")
    assert len(loads) == int(finished_fit)  # a finished fit is loaded, not redone


def test_resume_in_the_middle_of_render_reuses_the_finished_videos(tmp_path, whole, monkeypatch):
    from dynode_core.run import outputs

    config = RunConfig(out=str(tmp_path / "run"), **SMALL)
    real_keep, rendered = outputs.keep_rendered, []

    def keep_then_stop(ctx, name, sheet, meter=None):
        real_keep(ctx, name, sheet, meter)
        rendered.append(name)
        if len(rendered) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "keep_rendered", keep_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(config, progress=False)
    monkeypatch.setattr(outputs, "keep_rendered", real_keep)
    again, real_render = [], outputs.render_output

    def counting(ctx, name, *args, **kwargs):
        again.append(name)
        return real_render(ctx, name, *args, **kwargs)

    monkeypatch.setattr(outputs, "render_output", counting)
    run_pipeline(config, resume=True, progress=False)
    assert again == ["edited_sefa-0-2"]  # reconstruction and interpolated were reused
    assert _files(tmp_path / "run") == whole


def test_resume_with_other_settings_is_refused(tmp_path):
    run_pipeline(RunConfig(out=str(tmp_path / "run"), **SMALL), progress=False)
    other = {**SMALL, "interpolate": 3}
    with pytest.raises(InputError, match=r"these differ: interpolate \(2 -> 3\)"):
        run_pipeline(RunConfig(out=str(tmp_path / "run"), **other), resume=True, progress=False)


# ------------------------------------------------------------- checks before any work


@pytest.mark.parametrize("args, message", [
    (["--edit", "nope:0:1"], "unknown editors name 'nope'"),
    (["--edit", "sefa"], "bad edit 'sefa'"),
    (["--edit", "sefa:999"], "sefa"),
    (["--encoder", "missing-encoder.pt"], "missing-encoder.pt"),
    (["--dynamics", "linear", "--propagate", "cde"], "--propagate cde needs controlled"),
])
def test_a_bad_option_fails_before_any_work_and_leaves_no_folder(tmp_path, args, message):
    out = tmp_path / "run"
    proc = run_dynode("run", "--out", str(out), "--quiet", "--device", "cpu",
                      "--inverter", "hybrid", *args)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_folder_left_by_a_run_that_did_no_work_is_reused_without_resume(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".dynode-run").write_text("dynode run folder\n")
    (out / "config.toml").write_text("left over")
    result = run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    assert (out / "interpolated.mp4").is_file() and result.metrics["frames"] == 6


# ------------------------------------------------------------------ bounded outputs


def test_outputs_over_the_limit_are_refused_with_the_numbers(tmp_path):
    proc = run_dynode("run", "--out", str(tmp_path / "a"), "--interpolate", "1000000",
                      "--quiet", "--device", "cpu")
    assert proc.returncode == 2 and "63,000,001 frames, over the limit of 100,000" in proc.stderr
    assert not (tmp_path / "a").exists()
    proc = run_dynode("run", "--out", str(tmp_path / "b"), "--extrapolate", "1e9",
                      "--quiet", "--device", "cpu")
    assert proc.returncode == 2 and "--extrapolate's video would have" in proc.stderr
    with pytest.raises(InputError, match="more than half the free memory"):
        run_pipeline(RunConfig(out=str(tmp_path / "c"), **{**SMALL, "interpolate": 10**9},
                               max_output_frames=10**12), progress=False)


def test_dynode_interpolate_refuses_a_huge_factor_before_allocating(tmp_path):
    """Checked in this process (click's runner): each refusal is one line and exit 2, and
    comes before anything is allocated or written."""
    import torch
    from click.testing import CliRunner

    from dynode_core import LatentTrajectory
    from dynode_core.cli import cli

    def dynode(*args):
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    codes = tmp_path / "codes.safetensors"
    LatentTrajectory(torch.arange(6, dtype=torch.float64) / 25, torch.randn(6, 3, 8), "w+",
                     {"fps": 25.0}).save(codes)
    fitted = tmp_path / "fitted"
    assert dynode("fit", str(codes), "--dynamics", "linear", "--out", str(fitted), "--quiet",
                  "--device", "cpu").exit_code == 0
    out = tmp_path / "x.safetensors"
    res = dynode("interpolate", str(fitted), "--factor", "1000000", "--out", str(out))
    assert res.exit_code == 2 and "5,000,001 frames, over the limit" in res.output
    res = dynode("interpolate", str(fitted), "--extrapolate", "1e9", "--out", str(out))
    assert res.exit_code == 2 and "over the limit" in res.output and not out.exists()
    res = dynode("interpolate", str(fitted), "--factor", "3", "--max-output-frames", "15",
                 "--out", str(out))
    assert res.exit_code == 2 and "16 frames, over the limit of 15" in res.output
    res = dynode("interpolate", str(fitted), "--factor", "3", "--out", str(out))
    assert res.exit_code == 0 and out.is_file()
    assert len(LatentTrajectory.load(out)) == 16


# ------------------------------------------------------------------- write failures


def _mount(folder: Path, options: str) -> None:
    folder.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'})")


@pytest.fixture
def mounted(tmp_path):
    mounts = []

    def mount(name, options):
        folder = tmp_path / name
        _mount(folder, options)
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_full_disk_gives_one_line_and_leaves_nothing_claimed_complete(tmp_path, mounted):
    full = mounted("full", "size=200k")  # passes the estimate; the run fills it
    proc = run_dynode("run", "--out", str(full / "run"), "--quiet", "--device", "cpu",
                      "--inversion-steps", "1", "--dynamics", "linear", "--interpolate", "2",
                      "--max-frames", "6")
    assert proc.returncode == 1, proc.stderr
    assert "no space left on device" in proc.stderr.lower() and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (full / "run" / "metrics.json").exists()
    assert not [p for p in full.rglob("*") if ".tmp" in p.name]


def test_a_read_only_folder_gives_one_line(tmp_path, mounted):
    ro = mounted("ro", "size=1m,ro")
    proc = run_dynode("run", "--out", str(ro / "run"), "--quiet", "--device", "cpu",
                      "--max-frames", "4", "--dynamics", "linear")
    assert proc.returncode == 1 and "read-only file system" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr
    latents = tmp_path / "l.safetensors"
    from dynode_core import LatentTrajectory
    import torch

    LatentTrajectory(torch.arange(3.0), torch.zeros(3, 10, 128)).save(latents)
    proc = run_dynode("render", str(latents), "--out", str(ro / "v.mp4"), "--device", "cpu")
    assert proc.returncode == 1 and "read-only file system" in proc.stderr.lower()
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------- one writer


def test_a_second_writer_is_refused_naming_the_process(tmp_path):
    out = tmp_path / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from dynode_core.run.folder import RunLock
        lock = RunLock(Path({str(out)!r}))
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match=rf"in use by another dynode process \(pid "
                                              rf"{holder.pid}\)"):
            run_pipeline(RunConfig(out=str(out), **SMALL), resume=True, progress=False)
        assert json.loads((out / "metrics.json").read_text())["frames"] == 6  # untouched
    finally:
        holder.kill()
        holder.wait()
    run_pipeline(RunConfig(out=str(out), **SMALL), resume=True, progress=False)  # freed


# ------------------------------------------------------------------- plugin faults


def test_a_failing_registration_hook_names_the_plugin_and_the_hook(tmp_path):
    (tmp_path / "broken_plugin.py").write_text(textwrap.dedent('''
        from dynode_core import hookimpl

        @hookimpl
        def register_editors(register):
            raise ValueError("boom in registration")
    '''))
    env = {"DYNODE_PLUGINS": "broken_plugin", "PYTHONPATH": str(tmp_path)}
    proc = run_dynode("list", "editors", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert ("plugin 'broken_plugin' failed in its register_editors hook: ValueError: boom in "
            "registration") in proc.stderr
    proc = run_dynode("--debug", "list", "editors", env=env)
    assert "Traceback" in proc.stderr and "boom in registration" in proc.stderr


def test_a_failing_pipeline_hook_names_the_plugin(tmp_path):
    (tmp_path / "bad_hook.py").write_text(textwrap.dedent('''
        from dynode_core import hookimpl

        @hookimpl
        def after_stage(stage):
            if stage == "fit":
                raise RuntimeError("the hook broke")
    '''))
    env = {"DYNODE_PLUGINS": "bad_hook", "PYTHONPATH": str(tmp_path)}
    proc = run_dynode("run", "--out", str(tmp_path / "run"), "--quiet", "--device", "cpu",
                      "--inversion-steps", "1", "--dynamics", "linear", "--max-frames", "4",
                      env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "plugin 'bad_hook' failed in its after_stage hook: RuntimeError: the hook broke" \
        in proc.stderr


def test_strict_mode_names_the_plugin_that_failed_to_import(tmp_path):
    (tmp_path / "unimportable.py").write_text("import no_such_module_anywhere\n")
    env = {"DYNODE_PLUGINS": "unimportable", "PYTHONPATH": str(tmp_path),
           "DYNODE_STRICT_PLUGINS": "1"}
    proc = run_dynode("list", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "plugin 'unimportable' failed to load: ModuleNotFoundError" in proc.stderr
