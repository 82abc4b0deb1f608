"""Pivotal tuning and the edits that follow it: a run hands its edits to a tuner that takes
them, the edit term keeps what an edit does (and its change steady from frame to frame),
and the learning-rate schedule and the edits survive an interrupted tuning."""

import numpy as np
import pytest
import torch

from dynode_core import (InputError, RunConfig, Tuner, get_registry, hookimpl, read_video,
                         run_pipeline)
from dynode_core.app import generator_sha256
from dynode_core.edits import resolve_edit

from conftest import stopping_after

SMALL = dict(demo_frames=6, inversion_steps=2, dynamics="linear", interpolate=2,
             batch_size=4, device="cpu")
QUICK = dict(steps=8, batch=2, locality_samples=1, checkpoint_every=3)
EDIT = "sefa:0:2"


def _clip(n=4):
    """n world frames as the generator sees them (N, 3, 64, 64) in [-1, 1]."""
    frames = np.concatenate([b.frames for b in read_video(f"world:circle:{n}", n)])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1.0


@pytest.fixture
def jittery():
    """shapes64, a 4-frame world clip and pivots that jitter around the mean code (as an
    optimisation inversion's do), and the offset the edit adds to them."""
    torch.manual_seed(0)
    generator = get_registry().create("generators", "shapes64")
    noise = torch.randn(4, generator.num_ws, generator.latent_dim, generator=torch.Generator()
                        .manual_seed(1))
    pivots = generator.mean_latent().expand(4, generator.num_ws, -1) + 0.3 * noise
    edit = resolve_edit(EDIT, generator)
    offsets = (edit.apply(pivots[0]) - pivots[0])[None]
    return generator, pivots, _clip(), offsets


def _tune(generator, pivots, frames, **options):
    edits = options.pop("edits", None)
    state_dir, progress = options.pop("state_dir", None), options.pop("progress", None)
    tuner = get_registry().create("tuners", "pti", seed=0, **{**QUICK, **options})
    extra = {} if progress is None else {"progress": progress}
    if edits is not None:
        extra["edits"] = edits
    return tuner.tune(generator, pivots, lambda i: frames[i], state_dir=state_dir, **extra)


def _edit_change(generator, pivots, offsets):
    with torch.no_grad():
        return (generator.synthesize(pivots + offsets[0], noise_mode="const")
                - generator.synthesize(pivots, noise_mode="const"))


def test_the_edit_term_keeps_what_the_edit_does(jittery):
    generator, pivots, frames, offsets = jittery
    untuned = _edit_change(generator, pivots, offsets)
    options = dict(steps=40, batch=4, lr=1e-2, locality=0.0, edit_smoothing=0.0)
    plain = get_registry().create("generators", "shapes64")
    _tune(plain, pivots, frames, **options)
    _tune(generator, pivots, frames, edits=offsets, edit_samples=4, **options)
    drift_plain = (_edit_change(plain, pivots, offsets) - untuned).pow(2).mean()
    drift_kept = (_edit_change(generator, pivots, offsets) - untuned).pow(2).mean()
    assert drift_kept < 0.7 * drift_plain  # measured 0.53: without the term the edit drifts


def test_the_edit_term_smooths_the_edits_change_over_time(jittery):
    from dynode_tuning.edit_term import EditTerm

    generator, pivots, frames, offsets = jittery
    raw = EditTerm(generator, pivots, offsets, sigma=0.0).changes[0].float()
    smooth = EditTerm(generator, pivots, offsets, sigma=2.0).changes[0].float()
    assert torch.allclose(raw, _edit_change(generator, pivots, offsets), atol=2e-3)  # float16
    step = lambda x: (x[1:] - x[:-1]).pow(2).mean()  # noqa: E731
    assert step(smooth) < 0.5 * step(raw)
    assert torch.allclose(smooth.mean(0), raw.mean(0), atol=0.05)  # the same edit on average


def test_a_run_hands_its_edit_offsets_to_a_tuner_that_takes_them(tmp_path):
    from dynode_core.testing import run_with_plugins

    seen = {}

    class Recorder(Tuner):
        config = {"name": "recorder"}
        takes_edits = True

        def __init__(self, **options):
            pass

        def tune(self, generator, pivots, frames, *, progress=None, state_dir=None,
                 edits=None):
            seen.update(pivots=pivots.clone(), edits=edits)
            return {"steps": 0}

    class Plugin:
        @hookimpl
        def register_tuners(self, register):
            register("recorder", Recorder)

    result = run_with_plugins(RunConfig(out=str(tmp_path / "run"), tune="recorder",
                                        edits=[EDIT, "sefa:1:-1"], **SMALL), Plugin())
    generator = get_registry().create("generators", "shapes64")
    first = seen["pivots"][0]
    wanted = torch.stack([resolve_edit(spec, generator).apply(first) - first
                          for spec in (EDIT, "sefa:1:-1")])
    assert seen["edits"].shape == (2, generator.num_ws, generator.latent_dim)
    assert torch.allclose(seen["edits"], wanted)
    assert torch.equal(result.trajectory.latents, seen["pivots"])
    # and a tuner that does not declare it tunes as before, without them (test_tuning's
    # nudge tuner takes no edits keyword)
    plain = run_pipeline(RunConfig(out=str(tmp_path / "pti"), tune="pti", tune_steps=2,
                                   edits=[EDIT], **SMALL), progress=False)
    assert plain.metrics["tune"]["steps"] == 2


def test_the_cosine_schedule_warms_up_and_ends_low():
    from dynode_tuning.pti import FINAL_LR, learning_rate_factor

    cosine = [learning_rate_factor(step, step / 1000, "cosine", 100) for step in range(1001)]
    assert cosine[0] < 0.02 and cosine[9] < 0.1  # a short tuning stays gentle
    assert max(cosine) > 0.95 and cosine.index(max(cosine)) == 99  # peak after the warm-up
    assert all(a >= b for a, b in zip(cosine[99:], cosine[100:]))  # then only down
    assert cosine[-1] == pytest.approx(FINAL_LR)
    assert learning_rate_factor(5, 0.7, "constant", 100) == 1.0
    with pytest.raises(InputError, match="valid schedules: cosine, constant"):
        get_registry().create("tuners", "pti", schedule="step")


def test_a_tuning_with_edits_and_a_schedule_resumes_to_the_same_weights(jittery, tmp_path):
    generator, pivots, frames, offsets = jittery
    options = dict(edits=offsets, schedule="cosine", warmup=3, edit_samples=1)
    whole = get_registry().create("generators", "shapes64")
    _tune(whole, pivots, frames, state_dir=tmp_path / "whole", **options)
    with pytest.raises(KeyboardInterrupt):
        _tune(generator, pivots, frames, state_dir=tmp_path / "cut", progress=stopping_after(5),
              **options)
    resumed = get_registry().create("generators", "shapes64")
    _tune(resumed, pivots, frames, state_dir=tmp_path / "cut", **options)
    assert generator_sha256(resumed) == generator_sha256(whole)
    with pytest.raises(InputError, match="other settings or edits"):
        _tune(get_registry().create("generators", "shapes64"), pivots, frames,
              state_dir=tmp_path / "cut", **{**options, "edits": 2 * offsets})


def test_a_budget_that_does_not_stop_the_tuning_leaves_it_reproducible(jittery):
    """The cosine follows the clock only when the budget will end the tuning first; a
    tuning that ends by its steps gives the same weights with or without a budget."""
    generator, pivots, frames, _ = jittery
    budgeted = get_registry().create("generators", "shapes64")
    stats = _tune(budgeted, pivots, frames, time_budget=10_000)
    _tune(generator, pivots, frames)
    assert stats["stopped"] == "steps"
    assert generator_sha256(budgeted) == generator_sha256(generator)


def test_the_edit_table_of_a_large_generator_is_pooled_to_fit():
    """At 1024 px and 120 frames one edit's table would take 720 MiB; it is pooled by a
    power of two until it fits the budget, and a small one is kept whole."""
    from dynode_tuning.edit_term import TABLE_BYTES, pooling

    assert pooling(120, 64) == 1
    factor = pooling(120, 1024)
    assert factor == 2 and 120 * 3 * 2 * (1024 // factor) ** 2 <= TABLE_BYTES
    assert pooling(5 * 600, 1024) == 16


def test_a_pooled_edit_term_compares_at_the_tables_resolution(monkeypatch):
    from dynode_tuning import edit_term

    generator = get_registry().create("generators", "shapes64").eval().requires_grad_(False)
    from dynode_editors.vectors import sample_w

    pivots = sample_w(generator, 6, seed=2).unsqueeze(1).expand(-1, generator.num_ws, -1)
    offsets = 0.5 * torch.randn(1, *pivots.shape[1:], generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(edit_term, "TABLE_BYTES", 6 * 3 * 2 * 16 * 16)
    term = edit_term.EditTerm(generator, pivots, offsets, sigma=1.0)
    assert term.factor == 4 and term.changes.shape == (1, 6, 3, 16, 16)
    with torch.no_grad():
        images = generator.synthesize(pivots, noise_mode="const")
    loss = term.loss(generator, pivots, torch.arange(6), images, 3, torch.Generator())
    assert torch.isfinite(loss) and loss > 0
