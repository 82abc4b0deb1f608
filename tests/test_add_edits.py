"""``dynode_core.run.add_edits``: a finished run continued with the same settings plus new
edits; only the new edits are propagated and rendered, and the folder still reproduces."""

import json
import shutil

import pytest

from dynode_core import InputError, OutputError
from dynode_core.run import RunConfig, add_edits, run_pipeline

SMALL = dict(demo_frames=6, inversion_steps=1, dynamics="linear", interpolate=2, batch_size=4,
             device="cpu", edits=["sefa:0:1"])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("add-edits") / "run"
    run_pipeline(RunConfig(out=str(out), **SMALL), progress=False)
    return out


@pytest.fixture
def run_dir(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy, symlinks=True)
    return copy


def test_the_new_edit_is_written_and_recorded_and_nothing_else_is_redone(run_dir):
    rendered = ("reconstruction.mp4", "interpolated.mp4", "edited_sefa-0-1.mp4")
    before = {name: (run_dir / name).stat().st_mtime_ns for name in rendered}
    codes = (run_dir / "latents.safetensors").read_bytes()
    result = add_edits(run_dir, ["sefa:1:2"], progress=False)
    assert (run_dir / "edited_sefa-1-2.mp4").is_file()
    assert list(result.edited) == ["sefa-0-1", "sefa-1-2"]
    assert {n: (run_dir / n).stat().st_mtime_ns for n in rendered} == before  # not redone
    assert (run_dir / "latents.safetensors").read_bytes() == codes
    config = RunConfig.from_toml(run_dir / "config.toml")
    assert config.edits == ["sefa:0:1", "sefa:1:2"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["edits"]) == {"sefa-0-1", "sefa-1-2"}
    assert "edited_sefa-1-2.mp4" in (run_dir / "report.html").read_text()
    # the folder reproduces: its own config.toml continues it with nothing refused
    run_pipeline(config, resume=True, progress=False)


def test_resume_alone_still_refuses_other_edits(run_dir):
    config = RunConfig(out=str(run_dir), **{**SMALL, "edits": ["sefa:0:1", "sefa:1:2"]})
    with pytest.raises(InputError, match="edits"):
        run_pipeline(config, resume=True, progress=False)


def test_an_edit_the_run_has_is_refused_naming_its_file(run_dir):
    with pytest.raises(InputError, match="already: edited_sefa-0-1.mp4"):
        add_edits(run_dir, ["sefa:0:1.0"], progress=False)
    with pytest.raises(InputError, match="already: edited_sefa-2-1.mp4"):
        add_edits(run_dir, ["sefa:2:1", "sefa:2:1"], progress=False)


def test_a_bad_edit_fails_before_any_work(run_dir):
    config = (run_dir / "config.toml").read_text()
    with pytest.raises(InputError, match="no direction 'zz'"):
        add_edits(run_dir, ["sefa:zz:1"], progress=False)
    assert (run_dir / "config.toml").read_text() == config


def test_a_moved_run_folder_takes_edits(run_dir, tmp_path):
    moved = tmp_path / "elsewhere"
    run_dir.rename(moved)
    add_edits(moved, ["sefa:1:-1"], progress=False)
    assert (moved / "edited_sefa-1--1.mp4").is_file()
    assert RunConfig.from_toml(moved / "config.toml").out == str(moved)


def test_an_unfinished_or_busy_run_is_refused(run_dir, tmp_path):
    from dynode_core.run.folder import RunLock

    with pytest.raises(InputError, match="no finished dynode run"):
        add_edits(tmp_path / "nothing", ["sefa:1:1"], progress=False)
    lock = RunLock(run_dir)
    try:
        with pytest.raises(OutputError, match="in use by another dynode process"):
            add_edits(run_dir, ["sefa:1:1"], progress=False)
    finally:
        lock.release()
