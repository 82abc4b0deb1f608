"""The default stages of ``dynode run``, in order, one function each.

Every stage is ``fn(ctx, data) -> result``: ``ctx`` is the :class:`RunContext`
and ``data`` the stage's input, which the pipeline hooks see too:

=============  ==================================  ====================================
stage          input (``data``)                    result
=============  ==================================  ====================================
read           the input's ``VideoInfo`` (probe)   :class:`Source` (one-shot stream)
align          :class:`Source`                     :class:`~dynode_core.Alignment` (crops)
invert         :class:`Source`                     :class:`LatentTrajectory` (observed)
tune           :class:`LatentTrajectory`           the tuner's statistics (``--tune``
                                                   only; the run's generator is tuned)
fit            :class:`LatentTrajectory`           fitted :class:`Dynamics`
interpolate    fitted :class:`Dynamics`            ``{"interpolated": traj, ...}``
edit           fitted :class:`Dynamics`            ``{edit name: codes (T, L, D)}``
render         ``{output name: Output}``           :class:`Rendered` (sheet rows, metrics)
write          :class:`Rendered`                   ``None``
temporal       ``None`` (reads the written files)  ``metrics.json``'s ``temporal`` section
                                                   (real inputs; ``--temporal``)
=============  ==================================  ====================================
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..trajectory import LatentTrajectory
from .align import align_stage, aligned_batches, crop_mode
from .outputs import render, render_plan, write
from .runner import (EDIT, FIT, INTERPOLATE, INVERT, READ, RENDER, WRITE, Stage, Stages,
                     result_of)
from .temporal import temporal_stage
from .tune import tune_stage
from ..inversion.frames import FrameStore
from .source import Source, check_input_frames, reader_options, source_name


def read(ctx, info) -> Source:
    """The input as a one-shot stream that copies itself to ``input.mp4`` as it is read."""
    config = ctx.config
    name = source_name(config)
    total = info.frames if not config.max_frames else min(info.frames, config.max_frames)
    return Source(name, info, total, config.batch_size, reader_options(config, name),
                  copy_to=ctx.folder / "input.mp4", progress=ctx.progress.task("read", total))


def invert(ctx, source: Source) -> LatentTrajectory:
    """Every frame to W+ codes, streamed; the generator's view of each frame is kept
    in ``ctx.targets`` for the reconstruction metric."""
    from ..inversion import invert_video
    from ..render import to_uint8

    config, generator = ctx.config, ctx.generator
    ctx.targets = FrameStore(ctx.folder)
    traj = invert_video(aligned_batches(ctx, source), generator, ctx.inverter,
                        batch_size=config.batch_size, crop=crop_mode(ctx),
                        cache_dir=ctx.folder / "cache", resume=ctx.resume,
                        generator_name=config.generator, source=source.name, fps=source.fps,
                        progress=ctx.progress.task("invert", source.total),
                        on_input=lambda x: ctx.targets.append(to_uint8(x)))
    check_input_frames(len(traj), source.name)
    return traj


def save_trajectory(ctx, traj: LatentTrajectory) -> None:
    traj.save(ctx.folder / "latents.safetensors")


def prepare_fit(ctx) -> None:
    """The dynamics model, built before any work (a bad name or option fails here) and
    kept as ``ctx["dynamics"]``; ``--propagate cde`` needs a controlled model."""
    from ..errors import InputError
    from ..interfaces import require
    from ..plugins import get_registry

    config = ctx.config
    model = get_registry().create("dynamics", config.dynamics, seed=config.seed,
                                  device=ctx.device,
                                  **config.component_options.get("dynamics", {}))
    ctx["dynamics"] = require(model, "dynamics", config.dynamics)
    if config.propagate == "cde" and not model.controlled:
        raise InputError(f"--propagate cde needs controlled dynamics (the 'cde' model), but "
                         f"--dynamics {config.dynamics} is not: use --dynamics cde, or "
                         "--propagate dynamics or offset")


def fit(ctx, traj: LatentTrajectory):
    """The configured dynamics, fitted to the observed codes (on ``--resume``, the ones a
    finished fit saved are loaded instead)."""
    from ..dynamics_io import META_FILE, load_dynamics
    from ..interfaces import require

    config, saved = ctx.config, ctx.folder / "dynamics"
    if ctx.resume and (saved / META_FILE).is_file():
        return require(load_dynamics(saved, device=ctx.device), "dynamics", config.dynamics)
    model = ctx["dynamics"]
    model.fit(traj, progress=ctx.progress.task(f"fit {config.dynamics}"))
    return model


def save_dynamics(ctx, model) -> None:
    from ..dynamics_io import save_dynamics as save

    save(model, ctx.config.dynamics, ctx.folder / "dynamics", overwrite=True)


def interpolate(ctx, dynamics) -> dict[str, LatentTrajectory]:
    """The fitted path at ``interpolate`` times the frame rate (and past the end)."""
    from ..edits import extrapolation_times, upsample_times

    config, traj = ctx.config, ctx.results[INVERT]
    times = upsample_times(traj.times, config.interpolate)
    codes = torch.as_tensor(dynamics.predict(times)).detach().cpu().float()
    fps = traj.meta["fps"] * config.interpolate
    paths = {"interpolated": traj.with_latents(codes, times, fps=fps)}
    ex_times = extrapolation_times(traj.times, config.interpolate, config.extrapolate)
    if len(ex_times):
        ex_codes = torch.as_tensor(dynamics.predict(ex_times)).detach().cpu().float()
        paths["extrapolated"] = traj.with_latents(ex_codes, ex_times, fps=fps)
    return paths


def edit_name(spec) -> str:
    """The file-name stem of an edit: ``editor-direction-strength``."""
    return f"{spec.editor}-{Path(spec.direction).stem}-{spec.strength:g}"


def edit(ctx, dynamics) -> dict[str, torch.Tensor]:
    """Each ``--edit`` (resolved by the checks) made on frame 0 and propagated to every
    observed time."""
    from ..edits import propagate_edit

    traj = ctx.results[INVERT]
    return {name: propagate_edit(dynamics, traj, resolved, ctx.generator,
                                 strategy=ctx.config.propagate)
            for name, resolved in ctx.edits.items()}


def default_stages() -> Stages:
    """read -> align -> invert -> tune -> fit -> interpolate -> edit -> render -> write
    -> temporal (``tune`` runs only with ``--tune``, ``temporal`` on real inputs)."""
    return Stages([
        Stage(READ, read, take=lambda ctx: ctx.info,
              description="stream the input once, copying it to input.mp4"),
        align_stage(),
        Stage(INVERT, invert, take=result_of(READ), save=save_trajectory,
              description="every frame to W+ codes"),
        tune_stage(),
        Stage(FIT, fit, take=result_of(INVERT), save=save_dynamics, prepare=prepare_fit,
              description="continuous-time dynamics fitted to the codes"),
        Stage(INTERPOLATE, interpolate, take=result_of(FIT),
              description="the path at N times the frame rate"),
        Stage(EDIT, edit, take=result_of(FIT),
              description="frame-0 edits carried along the dynamics"),
        Stage(RENDER, render, take=render_plan,
              description="codes to videos; reconstruction PSNR/SSIM"),
        Stage(WRITE, write, take=result_of(RENDER),
              description="contact sheet, codes, trajectory plot"),
        temporal_stage(),
    ])
