"""The default stages of ``dynode run``, in order, one function each.

Every stage is ``fn(ctx, data) -> result``: ``ctx`` is the :class:`RunContext`
and ``data`` the stage's input, which the pipeline hooks see too:

=============  ==================================  ====================================
stage          input (``data``)                    result
=============  ==================================  ====================================
read           the input's ``VideoInfo`` (probe)   :class:`Source` (one-shot stream)
align          :class:`Source`                     :class:`~dynode_core.Alignment` (crops)
invert         :class:`Source`                     :class:`LatentTrajectory` (observed)
fit            :class:`LatentTrajectory`           fitted :class:`Dynamics`
interpolate    fitted :class:`Dynamics`            ``{"interpolated": traj, ...}``
edit           fitted :class:`Dynamics`            ``{edit name: codes (T, L, D)}``
render         ``{output name: Output}``           :class:`Rendered` (sheet rows, metrics)
write          :class:`Rendered`                   ``None``
=============  ==================================  ====================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..trajectory import LatentTrajectory
from .align import align, aligned_batches, crop_mode, save_alignment
from .outputs import render, render_plan, write
from .runner import Stage, Stages, result_of
from .source import FrameStore, Source, check_input_frames, reader_options, source_name


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


def fit(ctx, traj: LatentTrajectory):
    """The configured dynamics, fitted to the observed codes (on ``--resume``, the ones a
    finished fit saved are loaded instead)."""
    from ..dynamics_io import META_FILE, load_dynamics
    from ..interfaces import require
    from ..plugins import get_registry

    config, saved = ctx.config, ctx.folder / "dynamics"
    if ctx.resume and (saved / META_FILE).is_file():
        return require(load_dynamics(saved, device=ctx.device), "dynamics", config.dynamics)
    model = get_registry().create("dynamics", config.dynamics, seed=config.seed,
                                  device=ctx.device)
    require(model, "dynamics", config.dynamics)
    model.fit(traj, progress=ctx.progress.task(f"fit {config.dynamics}"))
    return model


def save_dynamics(ctx, model) -> None:
    from ..dynamics_io import save_dynamics as save

    save(model, ctx.config.dynamics, ctx.folder / "dynamics", overwrite=True)


def interpolate(ctx, dynamics) -> dict[str, LatentTrajectory]:
    """The fitted path at ``interpolate`` times the frame rate (and past the end)."""
    from ..edits import upsample_times

    config, traj = ctx.config, ctx.results["invert"]
    times = upsample_times(traj.times, config.interpolate)
    codes = torch.as_tensor(dynamics.predict(times)).detach().cpu().float()
    fps = traj.meta["fps"] * config.interpolate
    paths = {"interpolated": traj.with_latents(codes, times, fps=fps)}
    if config.extrapolate > 0:
        step = float(np.median(np.diff(traj.times.numpy()))) / config.interpolate
        count = max(1, int(round(config.extrapolate / step)))
        ex_times = traj.times[-1] + step * torch.arange(1, count + 1, dtype=torch.float64)
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

    traj = ctx.results["invert"]
    return {name: propagate_edit(dynamics, traj, resolved, ctx.generator,
                                 strategy=ctx.config.propagate)
            for name, resolved in ctx.edits.items()}


def default_stages() -> Stages:
    """read -> align -> invert -> fit -> interpolate -> edit -> render -> write."""
    stages = Stages([
        Stage("read", read, take=lambda ctx: ctx.info,
              description="stream the input once, copying it to input.mp4"),
        Stage("invert", invert, take=result_of("read"), save=save_trajectory,
              description="every frame to W+ codes"),
        Stage("fit", fit, take=result_of("invert"), save=save_dynamics,
              description="continuous-time dynamics fitted to the codes"),
        Stage("interpolate", interpolate, take=result_of("fit"),
              description="the path at N times the frame rate"),
        Stage("edit", edit, take=result_of("fit"),
              description="frame-0 edits carried along the dynamics"),
        Stage("render", render, take=render_plan,
              description="codes to videos; reconstruction PSNR/SSIM"),
        Stage("write", write, take=result_of("render"),
              description="contact sheet, codes, trajectory plot"),
    ])
    stages.add(Stage("align", align, take=result_of("read"), save=save_alignment,
                     description="one crop per frame (--align), saved in alignment/"),
               after="read")
    return stages
