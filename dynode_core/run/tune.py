"""The ``tune`` stage of ``dynode run`` (``--tune NAME``), between invert and fit.

The whole feature lives here: its settings (``tune``, ``tune_steps``), the check made
before any work (:func:`prepare_tune`: the tuner is built and the generator asked
whether it can be tuned), the stage itself and its ``metrics.json`` section.

The tuner works on the run's own copy of the generator (a worker that runs many videos
shares one loaded generator between them; tuning it in place would hand one video's
weights to the next). It tunes on the clip's frames as the generator sees them (read back
from the run's frame store: the input is not decoded again), with the inverted codes as
pivots; a tuner that declares ``takes_edits`` also gets the run's edits, as the offsets
they add to the codes (:func:`dynode_core.tuning.edit_offsets`), so that it can keep them
steady. The changed tensors are saved as ``tuned.safetensors`` (a generator delta naming
its base); every later stage renders with the tuned copy. On ``--resume`` a finished
delta is applied to a fresh copy instead of tuning again, and an unfinished tuning
continues from its checkpoint in ``cache/tune``.
"""

from __future__ import annotations

import copy

from .runner import INVERT, TUNE, StageOption, Stage, result_of

DELTA_FILE = "tuned.safetensors"
#: Seconds of tuning by default: the step count is bounded by time (``--tune-budget``).
BUDGET = 180.0
#: Pivots whose encoder codes render below this (dB) on a batch are out of the encoder's
#: domain: with the default inverter, such batches are refined by a full optimisation.
DOMAIN_PSNR = 16.0

OPTIONS = (
    StageOption("tune", str, component="tuners", help="Tune the generator on the clip before fitting (pti)."),
    StageOption("tune_steps", int, minimum=1, help="The tuner's steps [its default]."),
    StageOption("tune_budget", float, default=BUDGET, minimum=1,
                help="Seconds the tuner may run; it stops there even if steps remain."),
)


def prepare_tune(ctx) -> None:
    """The configured tuner, built and checked before any work (its name, its options,
    whether the generator can be tuned at all); kept as ``ctx["tuner"]``."""
    from ..interfaces import require
    from ..plugins import get_registry

    name = ctx.settings["tune"]
    ctx.generator.synthesis_parameters()  # a generator that cannot be tuned says so here
    component = get_registry().get("tuners", name)
    options = {"seed": ctx.config.seed, "device": ctx.device}
    if component.meta.get("time_budget"):  # a tuner registered as taking a time budget
        options["time_budget"] = ctx.settings["tune_budget"]
    options.update(ctx.config.component_options.get("tuner", {}))
    if ctx.settings["tune_steps"] is not None:
        options["steps"] = ctx.settings["tune_steps"]
    ctx["tuner"] = require(component.create(**options), "tuners", name)
    _pivot_inverter(ctx)


def _pivot_inverter(ctx) -> None:
    """With the default inverter (an encoder start and a light refine), pivots from an
    encoder out of its domain are poor, and tuning from them stalls (carphone with
    shapes64: 27 dB from 12.8 dB pivots, 30 dB from 18 dB ones in the same steps). So
    when the user chose neither the inverter nor its steps, the default one is asked to check each
    batch's encoder PSNR and to refine those below :data:`DOMAIN_PSNR` by a full
    optimisation; ``metrics.json`` says what it chose (``tune.pivots``)."""
    from ..interfaces import require
    from ..inversion import build_inverter

    config = ctx.config
    chosen = config.inverter is not None or config.inversion_steps is not None
    if chosen or ctx.inverter.config.get("name") != "hybrid":
        return
    options = {"domain_psnr": DOMAIN_PSNR, **config.component_options.get("inverter", {})}
    ctx.inverter = require(build_inverter(
        None, generator_name=config.generator, encoder=config.encoder,
        steps=config.inversion_steps, seed=config.seed, device=ctx.device, **options),
        "inverters", "default")


def tune(ctx, traj) -> dict:
    """Tune the run's own copy of the generator on the clip; returns the statistics."""
    from ..tuning import apply_generator_delta, edit_offsets, tune_generator

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
            state_dir=ctx.folder / "cache" / "tune",
            edits=edit_offsets(list(ctx.edits.values()), traj.latents))
    ctx.generator = apply_precision(ctx.generator, ctx.config.precision, ctx.device)
    return stats


def save_delta(ctx, stats: dict) -> None:
    from ..tuning import save_generator_delta

    if not stats.get("resumed"):
        save_generator_delta(ctx.folder / DELTA_FILE, **ctx.store.pop("tuned_delta"))


def pivot_choice(ctx) -> dict | None:
    """How the pivots were found: the inverter, and with the default one the encoder's
    PSNR on the clip and the refine chosen (None on a resumed inversion)."""
    inverter = ctx.inverter
    choices = inverter.decisions()
    out = {"inverter": inverter.config.get("name")}
    if choices:
        frames = sum(c["frames"] for c in choices)
        kinds = sorted({c["refine"] for c in choices})
        out.update(encoder_psnr=round(sum(c["encoder_psnr"] * c["frames"] for c in choices)
                                      / frames, 3),
                   refine=kinds[0] if len(kinds) == 1 else "mixed",
                   domain_psnr=inverter.config.get("domain_psnr"),
                   batches=choices)
    return out


def tune_metrics(ctx) -> dict:
    """``metrics.json``'s ``tune`` section: the tuner's statistics and how the pivots
    were found."""
    return {**ctx.results[TUNE], "pivots": pivot_choice(ctx)}


def tune_stage() -> Stage:
    return Stage(TUNE, tune, take=result_of(INVERT), save=save_delta,
                 description="the generator tuned on the clip (pivotal tuning)",
                 options=OPTIONS, active=lambda settings: settings["tune"] is not None,
                 prepare=prepare_tune, metrics=tune_metrics)
