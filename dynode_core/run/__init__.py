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

import importlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..device import resolve_device
from ..errors import InputError
from ..io import atomic_write_text
from .config import RunConfig

if TYPE_CHECKING:
    import torch

    from ..trajectory import LatentTrajectory

#: What the layers above a run (``commands/``, ``batch/``) use of the run package, by the
#: submodule that defines it; nothing outside ``run/`` imports a submodule directly.
_FACE = {"NUMBERS": "config", "check_output_size": "checks", "check_component_options": "config",
         "parse_component_options": "config", "RUN_MARKER": "folder", "RunLock": "folder",
         "write_report": "html", "summary_table": "report", "upright": "paste",
         "input_transforms": "paste"}

__all__ = ["ARTIFACTS", "RunConfig", "RunResult", "add_edits", "run_pipeline", "run_stages",
           *_FACE]


def __getattr__(name):
    if name in _FACE:
        module = importlib.import_module(f"{__name__}.{_FACE[name]}")
        return getattr(module, "MARKER" if name == "RUN_MARKER" else name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: What a run folder holds (edited_<name>.mp4 per edit; extrapolated.* when asked;
#: a GIF preview of every video with ``gif``; tuned.safetensors with ``tune``; alignment/
#: and aligned/ with an aligner that crops; face_boxes.json when the temporal stage found a
#: face).
ARTIFACTS = ("input.mp4", "reconstruction.mp4", "interpolated.mp4", "contact_sheet.png",
             "trajectory.png", "metrics.json", "config.toml", "latents.safetensors",
             "interpolated.safetensors", "dynamics", "report.html")


@dataclass
class RunResult:
    folder: Path
    trajectory: "LatentTrajectory"
    interpolated: "LatentTrajectory"
    edited: "dict[str, torch.Tensor]" = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)


#: Settings a resumed run may change: they change how fast it computes, not what.
RESUMABLE_CHANGES = ("threads",)


def _same_settings(folder: Path, config: RunConfig, adding: tuple[str, ...] = ()) -> None:
    """``--resume`` continues a run with its own settings: refuse other ones, naming them.
    ``adding``: edits :func:`add_edits` appends to the stored ones (nothing else may differ)."""
    stored_path = folder / "config.toml"
    if not stored_path.is_file():
        return
    stored = RunConfig.from_toml(stored_path)
    if adding:  # the folder is the one locked, wherever its config says it was written
        stored.edits, stored.out = [*stored.edits, *adding], config.out
    changed = [f"{k} ({getattr(stored, k)!r} -> {getattr(config, k)!r})"
               for k in config.__dataclass_fields__
               if k not in RESUMABLE_CHANGES and getattr(stored, k) != getattr(config, k)]
    if changed:
        raise InputError(f"--resume continues the run in {folder} with its own settings, but "
                         f"these differ: {'; '.join(changed)}; give the same options, or "
                         "--overwrite to start over")


def _generator(config: RunConfig, device: str, components: dict):
    """The run's generator: the one passed in (a worker's loaded model, shared
    read-only), else built from the registry."""
    from ..interfaces import require
    from ..plugins import get_registry

    generator = components.get("generator")
    if generator is None:
        generator = get_registry().create("generators", config.generator,
                                          checkpoint=config.checkpoint, device=device,
                                          **config.component_options.get("generator", {}))
    return require(generator, "generators", config.generator)


def _refuse_settings_of_idle_stages(stages, settings: dict, given: dict) -> None:
    """A setting given for a stage this run leaves out (``--tune-steps`` without
    ``--tune``) would be ignored silently: refuse it, naming what turns the stage on."""
    for stage in stages:
        if stage.is_active(settings):
            continue
        idle = [o.flag for o in stage.options if given.get(o.name) is not None
                and not stage.is_active({**settings, o.name: o.default})]  # not the switch
        if idle:
            probe = {bool: True, int: 1, float: 1.0, str: "x"}
            needs = ", ".join(o.flag for o in stage.options if o.flag not in idle and
                              stage.is_active({**settings, o.name: probe.get(o.kind, "x")}))
            raise InputError(f"{', '.join(idle)} applies only when the {stage.name} stage runs "
                             f"(turned on by {needs or 'its plugin'}); give it too, or drop "
                             f"{', '.join(idle)}")


def _prepare(config: RunConfig, stages, resume: bool, overwrite: bool, progress,
             components: dict, adding: tuple[str, ...] = ()):
    """Everything checked and loaded before the first stage (the core's checks, then
    every active stage's ``prepare``), then the locked run folder and the run context.
    Nothing is created until every check has passed."""
    from ..compute import apply_precision, check_precision
    from ..video import probe_video
    from .checks import check_run
    from .context import RunContext
    from .folder import check_run_folder, prepare_run_folder
    from .source import check_input_frames, reader_options, source_name

    settings = stages.settings(config.stage_options)
    _refuse_settings_of_idle_stages(stages, settings, config.stage_options)
    device = resolve_device(config.device)
    check_precision(config.precision, device)
    check_run_folder(config.out, resume=resume, overwrite=overwrite)
    name = source_name(config)
    info = probe_video(name, **reader_options(config, name))  # bad input fails here
    check_input_frames(info.frames, name)
    master = _generator(config, device, components)
    # bf16: a converted copy computes; the float32 model stays for stages that change
    # weights (``tune`` keeps float32 master weights).
    generator = apply_precision(master, config.precision, device, copy=True)
    checked = check_run(config, generator, info, device)
    ctx = RunContext(config=config, folder=Path(config.out), device=device,
                     generator=generator, progress=progress, resume=resume, info=info,
                     inverter=checked.inverter, settings=settings, edits=checked.edits)
    if generator is not master:
        ctx["generator_fp32"] = master
    for stage in stages:
        if stage.prepare is not None and stage.is_active(settings):
            stage.prepare(ctx)
    ctx.folder, lock = prepare_run_folder(config.out, resume=resume, overwrite=overwrite)
    try:
        if resume:
            _same_settings(ctx.folder, config, adding)
        atomic_write_text(ctx.folder / "config.toml", config.to_toml(stages))
    except BaseException:
        lock.release()
        raise
    return ctx, lock


def _metrics(ctx, stages, started: float) -> dict:
    """``metrics.json``: the core's numbers, then each active stage's own section."""
    import torch

    from ..provenance import versions
    from .runner import FIT, INTERPOLATE, INVERT, RENDER, peak_rss_mb

    traj, dynamics = ctx.results[INVERT], ctx.results[FIT]
    fit_stats = dict(dynamics.fit_stats or {})
    metrics = {"frames": len(traj), "interpolated_frames": len(ctx.results[INTERPOLATE]
                                                               ["interpolated"]),
               "device": ctx.device, "seed": ctx.config.seed, "versions": versions(),
               "threads": torch.get_num_threads(), "precision": ctx.config.precision,
               **ctx.results[RENDER].metrics, "fit": fit_stats,
               "fit_loss": fit_stats.get("loss")}
    metrics["edits"] = {name: {"edit": str(edit.spec), "file": f"edited_{name}.mp4"}
                        for name, edit in ctx.edits.items()}
    for stage in stages:
        if stage.metrics is not None and stage.name in ctx.results:
            section = stage.metrics(ctx)
            if section is not None:
                metrics[stage.name] = section
    return {**metrics, "stages": ctx.stages,
            "total_seconds": round(time.perf_counter() - started, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1)}


def run_stages(plugin_manager=None):
    """The stages of a run: the default ones, extended by plugins' ``add_stages``."""
    from ..plugins import call_hooks, get_plugin_manager
    from .stages import default_stages

    stages = default_stages()
    call_hooks(plugin_manager or get_plugin_manager(), "add_stages", stages=stages)
    return stages


def run_pipeline(config: RunConfig, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True, console=None, plugin_manager=None,
                 stages=None, components: dict | None = None) -> RunResult:
    """Run every stage for ``config``; returns the codes, the paths and the metrics.

    ``stages``: the :class:`~dynode_core.run.runner.Stages` to run (default: the
    default stages, extended by plugins' ``add_stages`` hooks). ``components``: ready
    objects the run uses instead of building them, today ``{"generator": model}`` (a
    batch worker passes the generator it loaded once; the run never changes it: a
    stage that tunes works on its own copy).
    """
    return _run(config, resume=resume, overwrite=overwrite, progress=progress,
                console=console, plugin_manager=plugin_manager, stages=stages,
                components=components)


def _run(config, *, resume, overwrite, progress, console, plugin_manager, stages,
         components, adding: tuple[str, ...] = ()) -> RunResult:
    from ..compute import set_threads
    from ..progress import Progressor
    from .html import write_report
    from .runner import StageRunner

    started = time.perf_counter()
    set_threads(config.threads)
    runner = StageRunner(plugin_manager)
    if stages is None:
        stages = run_stages(runner.pm)
    bar = Progressor(enabled=progress, console=console)
    ctx, lock = _prepare(config, stages, resume, overwrite, bar, dict(components or {}),
                         adding)
    import torch

    torch.manual_seed(config.seed)
    try:
        with bar:
            runner.run_all(stages, ctx)
        metrics = _metrics(ctx, stages, started)
        atomic_write_text(ctx.folder / "metrics.json", json.dumps(metrics, indent=2, default=str))
        write_report(ctx.folder)  # report.html, built from the folder's files
    finally:
        if ctx.targets is not None:
            ctx.targets.close()
        lock.release()
    return RunResult(ctx.folder, ctx.results["invert"], ctx.results["interpolate"]["interpolated"],
                     ctx.results["edit"], metrics)


def add_edits(run_dir, edits, *, progress: bool = True, console=None,
              plugin_manager=None) -> RunResult:
    """Add ``edits`` (``EDITOR:DIRECTION[:STRENGTH]`` specs) to the finished run in
    ``run_dir`` and write them: the run's own settings (its ``config.toml``) plus these
    edits, continued with ``resume`` so every finished stage is reused and only the new
    edits are propagated and rendered. ``config.toml``, ``metrics.json`` and
    ``report.html`` then list them, so the folder still reproduces. An edit the run has
    already is refused, naming its file; so is a folder another process is writing."""
    from ..edits import parse_edit
    from .stages import edit_name

    folder = Path(run_dir)
    if not (folder / "config.toml").is_file() or not (folder / "metrics.json").is_file():
        raise InputError(f"{folder} holds no finished dynode run (no config.toml and "
                         "metrics.json); run it to the end first")
    stored = RunConfig.from_toml(folder / "config.toml")
    have = {edit_name(parse_edit(spec)) for spec in stored.edits}
    specs = [str(parse_edit(spec)) for spec in edits]
    for spec in specs:
        name = edit_name(parse_edit(spec))
        if name in have:
            raise InputError(f"the run has the edit {spec} already: edited_{name}.mp4")
        have.add(name)
    if not specs:
        raise InputError("add_edits needs at least one edit")
    same_folder = Path(stored.out).resolve() == folder.resolve()
    config = RunConfig.from_toml(folder / "config.toml", edits=[*stored.edits, *specs],
                                 out=stored.out if same_folder else str(folder))
    return _run(config, resume=True, overwrite=False, progress=progress, console=console,
                plugin_manager=plugin_manager, stages=None, components=None,
                adding=tuple(specs))
