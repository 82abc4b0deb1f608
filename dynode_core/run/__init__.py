"""``dynode run`` as a Python API: video -> codes -> dynamics -> interpolated and edited videos.

    from dynode_core import RunConfig, run_pipeline
    result = run_pipeline(RunConfig(input="clip.mp4", edits=["sefa:0:2.0"], out="runs/clip"))
    print(result.metrics["reconstruction_psnr"], result.folder)

The package holds the whole run: :mod:`.config` (``RunConfig``), :mod:`.context`
(the one :class:`RunContext` every stage reads), :mod:`.runner` (stages and the
hooks around them), :mod:`.stages` and :mod:`.outputs` (the default stages),
:mod:`.source` (the single decode of the input), :mod:`.folder` and
:mod:`.report`. Outputs are listed in :data:`ARTIFACTS`; ``config.toml`` in the
run folder reproduces the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import InputError
from ..io import atomic_write_text
from ..trajectory import LatentTrajectory
from ..device import resolve_device
from .config import RunConfig

__all__ = ["ARTIFACTS", "RunConfig", "RunResult", "run_pipeline"]

#: What a run folder holds (edited_<name>.mp4 per edit; extrapolated.* when asked;
#: a GIF preview of every video with ``gif``; tuned.safetensors with ``tune``; alignment/
#: and aligned/ with an aligner that crops).
ARTIFACTS = ("input.mp4", "reconstruction.mp4", "interpolated.mp4", "contact_sheet.png",
             "trajectory.png", "metrics.json", "config.toml", "latents.safetensors",
             "interpolated.safetensors", "dynamics", "report.html")


@dataclass
class RunResult:
    folder: Path
    trajectory: LatentTrajectory
    interpolated: LatentTrajectory
    edited: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def _same_settings(folder: Path, config: RunConfig) -> None:
    """``--resume`` continues a run with its own settings: refuse other ones, naming them."""
    stored_path = folder / "config.toml"
    if not stored_path.is_file():
        return
    stored = RunConfig.from_toml(stored_path)
    changed = [f"{k} ({getattr(stored, k)!r} -> {getattr(config, k)!r})"
               for k in config.__dataclass_fields__ if getattr(stored, k) != getattr(config, k)]
    if changed:
        raise InputError(f"--resume continues the run in {folder} with its own settings, but "
                         f"these differ: {'; '.join(changed)}; give the same options, or "
                         "--overwrite to start over")


def _prepare(config: RunConfig, resume: bool, overwrite: bool, progress):
    """Everything checked and loaded before the first stage, then the locked run folder
    and the run context. Nothing is created until every check has passed."""
    from ..interfaces import require
    from ..plugins import get_registry
    from ..video import probe_video
    from .checks import check_run
    from .context import RunContext
    from .folder import check_run_folder, prepare_run_folder
    from .source import check_input_frames, reader_options, source_name

    device = resolve_device(config.device)
    check_run_folder(config.out, resume=resume, overwrite=overwrite)
    name = source_name(config)
    info = probe_video(name, **reader_options(config, name))  # bad input fails here
    check_input_frames(info.frames, name)
    generator = get_registry().create("generators", config.generator,
                                      checkpoint=config.checkpoint, device=device)
    require(generator, "generators", config.generator)
    checked = check_run(config, generator, info, device)
    folder, lock = prepare_run_folder(config.out, resume=resume, overwrite=overwrite)
    try:
        if resume:
            _same_settings(folder, config)
        atomic_write_text(folder / "config.toml", config.to_toml())
    except BaseException:
        lock.release()
        raise
    ctx = RunContext(config=config, folder=folder, device=device, generator=generator,
                     progress=progress, resume=resume, info=info, inverter=checked.inverter,
                     aligner=checked.aligner,
                     edits=checked.edits, tuner=checked.tuner)
    return ctx, lock


def _metrics(ctx, started: float) -> dict:
    from ..provenance import versions
    from .runner import peak_rss_mb

    traj, dynamics = ctx.results["invert"], ctx.results["fit"]
    fit_stats = dict(dynamics.fit_stats or {})
    return {"frames": len(traj), "interpolated_frames": len(ctx.results["interpolate"]
                                                            ["interpolated"]),
            "device": ctx.device, "seed": ctx.config.seed, "versions": versions(),
            **ctx.results["render"].metrics, "fit": fit_stats, "fit_loss": fit_stats.get("loss"),
            **({"tune": ctx.results["tune"]} if "tune" in ctx.results else {}),
            "stages": ctx.stages, "total_seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def run_pipeline(config: RunConfig, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, console=None, plugin_manager=None,
                 stages=None) -> RunResult:
    """Run every stage for ``config``; returns the codes, the paths and the metrics.

    ``stages``: the :class:`~dynode_core.run.runner.Stages` to run (default: the
    default stages, extended by plugins' ``add_stages`` hooks).
    """
    from ..progress import Progressor
    from .html import write_report
    from .runner import StageRunner
    from .stages import default_stages

    started = time.perf_counter()
    runner = StageRunner(plugin_manager)
    if stages is None:
        stages = default_stages()
        if config.tune:
            from .tune import tune_stage

            stages.add(tune_stage(), after="invert")
        from ..plugins import call_hooks

        call_hooks(runner.pm, "add_stages", stages=stages)
    bar = Progressor(enabled=progress, console=console)
    ctx, lock = _prepare(config, resume, overwrite, bar)
    torch.manual_seed(config.seed)
    try:
        with bar:
            runner.run_all(stages, ctx)
        metrics = _metrics(ctx, started)
        atomic_write_text(ctx.folder / "metrics.json", json.dumps(metrics, indent=2, default=str))
        write_report(ctx.folder)  # report.html, built from the folder's files
    finally:
        if ctx.targets is not None:
            ctx.targets.close()
        lock.release()
    return RunResult(ctx.folder, ctx.results["invert"], ctx.results["interpolate"]["interpolated"],
                     ctx.results["edit"], metrics)
