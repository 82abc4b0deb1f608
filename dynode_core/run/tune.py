"""The optional ``tune`` stage of ``dynode run`` (``--tune NAME``), between invert and fit.

The tuner adjusts the run's generator in place on the clip's frames (as the generator
sees them, read back from the run's frame store: the input is not decoded again), with
the inverted codes as pivots. The changed tensors are saved as ``tuned.safetensors``
(a generator delta naming its base); every later stage renders with the tuned
generator. On ``--resume`` a finished delta is applied instead of tuning again, and an
unfinished tuning continues from its checkpoint in ``cache/tune``.
"""

from __future__ import annotations

from .runner import Stage, result_of

DELTA_FILE = "tuned.safetensors"


def build_tuner(config, generator, device: str):
    """The configured tuner (checked before any work): its name, options and whether the
    generator can be tuned at all."""
    from ..interfaces import require
    from ..plugins import get_registry

    generator.synthesis_parameters()  # a generator that cannot be tuned says so here
    options = {"seed": config.seed, "device": device}
    if config.tune_steps is not None:
        options["steps"] = config.tune_steps
    return require(get_registry().create("tuners", config.tune, **options), "tuners",
                   config.tune)


def tune(ctx, traj) -> dict:
    """Tune the run's generator on the clip; returns the tuner's statistics."""
    from ..tuning import apply_generator_delta, generator_sha256

    saved = ctx.folder / DELTA_FILE
    if ctx.resume and saved.is_file():
        config = apply_generator_delta(ctx.generator, saved)
        return {"resumed": True, **config.get("tuner", {}).get("stats", {})}
    ctx.store["base_sha256"] = generator_sha256(ctx.generator)
    ctx.store["base_state"] = {k: v.detach().cpu().clone()
                               for k, v in ctx.generator.state_dict().items()}
    task = ctx.progress.task(f"tune {ctx.config.tune}", ctx.tuner.config.get("steps"))
    stats = ctx.tuner.tune(ctx.generator, traj.latents, ctx.targets.tensors, progress=task,
                           state_dir=ctx.folder / "cache" / "tune")
    return {"psnr_curve": [], **stats}  # every tuner's statistics show a curve, maybe empty


def save_delta(ctx, stats: dict) -> None:
    from ..tuning import changed_tensors, save_generator_delta

    if stats.get("resumed"):
        return
    tensors = changed_tensors(ctx.generator, ctx.store.pop("base_state"))
    save_generator_delta(ctx.folder / DELTA_FILE, tensors,
                         base_sha256=ctx.store["base_sha256"],
                         config={**ctx.tuner.config, "stats": {
                             k: v for k, v in stats.items() if k != "psnr_curve"}})


def tune_stage() -> Stage:
    return Stage("tune", tune, take=result_of("invert"), save=save_delta,
                 description="the generator tuned on the clip (pivotal tuning)")
