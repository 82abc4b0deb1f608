"""The ``tune`` stage of ``dynode run`` (``--tune NAME``), between invert and fit.

The whole feature lives here: its settings (``tune``, ``tune_steps``), the check made
before any work (:func:`prepare_tune`: the tuner is built and the generator asked
whether it can be tuned), the stage itself and its ``metrics.json`` section.

The tuner works on the run's own copy of the generator (a worker that runs many videos
shares one loaded generator between them; tuning it in place would hand one video's
weights to the next). It tunes on the clip's frames as the generator sees them (read back
from the run's frame store: the input is not decoded again), with the inverted codes as
pivots. The changed tensors are saved as ``tuned.safetensors`` (a generator delta naming
its base); every later stage renders with the tuned copy. On ``--resume`` a finished
delta is applied to a fresh copy instead of tuning again, and an unfinished tuning
continues from its checkpoint in ``cache/tune``.
"""

from __future__ import annotations

import copy

from .runner import INVERT, TUNE, StageOption, Stage, result_of

DELTA_FILE = "tuned.safetensors"

OPTIONS = (
    StageOption("tune", str, component="tuners", help="Tune the generator on the clip before fitting (pti)."),
    StageOption("tune_steps", int, minimum=1, help="The tuner's steps [its default]."),
)


def prepare_tune(ctx) -> None:
    """The configured tuner, built and checked before any work (its name, its options,
    whether the generator can be tuned at all); kept as ``ctx["tuner"]``."""
    from ..interfaces import require
    from ..plugins import get_registry

    name = ctx.settings["tune"]
    ctx.generator.synthesis_parameters()  # a generator that cannot be tuned says so here
    options = {"seed": ctx.config.seed, "device": ctx.device,
               **ctx.config.component_options.get("tuner", {})}
    if ctx.settings["tune_steps"] is not None:
        options["steps"] = ctx.settings["tune_steps"]
    ctx["tuner"] = require(get_registry().create("tuners", name, **options), "tuners", name)


def tune(ctx, traj) -> dict:
    """Tune the run's own copy of the generator on the clip; returns the statistics."""
    from ..tuning import apply_generator_delta, tune_generator

    from ..compute import apply_precision

    # Tuned in float32 (master weights) when the run computes in bf16; the tuned copy
    # then computes in the run's precision.
    ctx.generator = copy.deepcopy(ctx.store.get("generator_fp32", ctx.generator))
    saved = ctx.folder / DELTA_FILE
    if ctx.resume and saved.is_file():
        config = apply_generator_delta(ctx.generator, saved)
        stats = {"resumed": True, **config.get("tuner", {}).get("stats", {})}
    else:
        tuner = ctx["tuner"]
        task = ctx.progress.task(f"tune {ctx.settings['tune']}", tuner.config.get("steps"))
        stats, ctx["tuned_delta"] = tune_generator(
            tuner, ctx.generator, traj.latents, ctx.targets.tensors, progress=task,
            state_dir=ctx.folder / "cache" / "tune")
    ctx.generator = apply_precision(ctx.generator, ctx.config.precision, ctx.device)
    return stats


def save_delta(ctx, stats: dict) -> None:
    from ..tuning import save_generator_delta

    if not stats.get("resumed"):
        save_generator_delta(ctx.folder / DELTA_FILE, **ctx.store.pop("tuned_delta"))


def tune_metrics(ctx) -> dict:
    """``metrics.json``'s ``tune`` section: the tuner's statistics."""
    return ctx.results[TUNE]


def tune_stage() -> Stage:
    return Stage(TUNE, tune, take=result_of(INVERT), save=save_delta,
                 description="the generator tuned on the clip (pivotal tuning)",
                 options=OPTIONS, active=lambda settings: settings["tune"] is not None,
                 prepare=prepare_tune, metrics=tune_metrics)
