"""``dynode run`` as a Python API: video -> codes -> dynamics -> interpolated and edited videos.

    from dynode_core.run import RunConfig, run_pipeline
    result = run_pipeline(RunConfig(input="clip.mp4", edits=["sefa:0:2.0"], out="runs/clip"))
    print(result.metrics["reconstruction_psnr"], result.folder)

Every stage goes through :class:`~dynode_core.pipeline.StageRunner`, so the
``before_stage`` / ``after_stage`` hooks of plugins see it. Outputs are listed in
:data:`ARTIFACTS`; ``config.toml`` in the run folder reproduces the run.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import InputError
from .io import atomic_write_text
from .pipeline import StageRunner, peak_rss_mb
from .provenance import versions
from .runconfig import RunConfig, resolve_device
from .runfolder import prepare_run_folder
from .trajectory import LatentTrajectory

__all__ = ["RunConfig", "RunResult", "run_pipeline"]

#: What a run folder holds (edited_<name>.mp4/.gif per edit; extrapolated.* when asked).
ARTIFACTS = ("input.mp4", "reconstruction.mp4", "reconstruction.gif", "interpolated.mp4",
             "interpolated.gif", "contact_sheet.png", "trajectory.png", "metrics.json",
             "config.toml", "latents.safetensors", "interpolated.safetensors", "dynamics")


@dataclass
class RunResult:
    folder: Path
    trajectory: LatentTrajectory
    interpolated: LatentTrajectory
    edited: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


def run_pipeline(config: RunConfig, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, console=None, plugin_manager=None) -> RunResult:
    """Run every stage for ``config``; returns the codes, the paths and the metrics."""
    from . import stages
    from .progress import Progressor

    started = time.perf_counter()
    device = resolve_device(config.device)
    info = stages.probe(config)  # bad input fails here, before anything is written
    generator = stages.load_generator(config, device)
    folder = prepare_run_folder(config.out, resume=resume, overwrite=overwrite)
    atomic_write_text(folder / "config.toml", config.to_toml())
    torch.manual_seed(config.seed)
    bar = Progressor(enabled=progress, console=console)
    runner = StageRunner(plugin_manager, context={"config": config, "folder": folder,
                                                  "device": device})
    with bar:
        source = runner.run("read", lambda _: stages.read(config, info, folder, bar), None)
        traj = runner.run("invert", lambda src: stages.invert(config, src, generator, folder,
                                                               device, bar, resume), source)
        traj.save(folder / "latents.safetensors")
        dynamics = runner.run("fit", lambda t: stages.fit(config, t, folder, device, bar), traj)
        paths = runner.run("interpolate", lambda d: stages.interpolate(config, traj, d), dynamics)
        edited = runner.run("edit", lambda d: stages.edit(config, traj, d, generator), dynamics)
        frames = runner.run("render", lambda p: stages.render(
            config, folder, generator, traj, p, edited, source, bar), paths)
    fit_stats = getattr(dynamics, "fit_stats", None) or {}
    metrics = {"frames": len(traj), "interpolated_frames": len(paths["interpolated"]),
               "device": device, "seed": config.seed, "versions": versions(), **frames.metrics,
               "fit": fit_stats, "fit_loss": fit_stats.get("loss")}
    runner.run("write", lambda f: stages.write(config, folder, traj, paths, edited, f,
                                               dynamics), frames)
    metrics["stages"] = runner.context["stages"]
    metrics["total_seconds"] = round(time.perf_counter() - started, 3)
    metrics["peak_rss_mb"] = round(peak_rss_mb(), 1)
    atomic_write_text(folder / "metrics.json", json.dumps(metrics, indent=2, default=str))
    return RunResult(folder, traj, paths["interpolated"], edited, metrics)


def check_input_frames(count: int, source: str) -> None:
    """A video must hold at least two frames to have a trajectory."""
    if count == 0:
        raise InputError(f"{source} holds no frames")
    if count == 1:
        raise InputError(f"{source} holds a single frame; a trajectory needs at least two")
