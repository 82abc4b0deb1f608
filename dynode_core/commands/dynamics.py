"""``dynode fit`` and ``dynode interpolate``: fit dynamics to codes, sample them anywhere."""

from __future__ import annotations

import click

from ..params import ComponentName, DEVICE, parse_options, with_threads
from ..provenance import versions

TRAJECTORY_COPY = "trajectory.safetensors"
RUN_FILE = "run.json"


@click.command("fit")
@with_threads
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@click.option("--dynamics", "name", type=ComponentName("dynamics"), default="ode",
              show_default=True, help="Dynamics model (see `dynode list dynamics`).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Folder for the fitted model, a copy of the codes and run.json.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Frame rate of a bare tensor of codes (times = index / fps) [default: 1].")
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Model option, repeatable: iterations=100, endpoint=blend, kinetic=0.1, ...")
@click.option("--overwrite", is_flag=True, help="Replace the files of an existing --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def fit(latents, name, out, seed, device, fps, options, overwrite, quiet):
    """Fit dynamics to the codes in LATENTS (a trajectory or a bare (T, L, D) tensor)."""
    import json
    import time
    from pathlib import Path

    from ..dynamics_io import META_FILE, STATE_FILE, save_dynamics
    from ..io import OutputError, atomic_write_text, check_new_output
    from ..plugins import get_registry
    from ..progress import Progressor
    from ..trajectory import LatentTrajectory

    out = Path(out)
    if (out / TRAJECTORY_COPY).resolve() == Path(latents).resolve():
        raise OutputError(f"--out {out} would overwrite the input {latents}")
    for file in (META_FILE, STATE_FILE, TRAJECTORY_COPY, RUN_FILE):
        check_new_output(out / file, overwrite=overwrite)
    traj = LatentTrajectory.load(latents, fps=fps)
    options = parse_options(options)
    model = get_registry().create("dynamics", name, **{**options, "seed": seed, "device": device})
    start = time.perf_counter()
    with Progressor(enabled=not quiet) as bar:
        model.fit(traj, progress=bar.task(f"fit {name}"))
    seconds = time.perf_counter() - start
    save_dynamics(model, name, out, overwrite=overwrite)
    traj.save(out / TRAJECTORY_COPY)
    run = {"command": "fit", "input": str(latents), "dynamics": name, "seed": seed,
           "device": device, "options": options, "config": dict(model.config),
           "fit": dict(model.fit_stats or {}),
           "fit_seconds": round(seconds, 3), "versions": versions()}
    atomic_write_text(out / RUN_FILE, json.dumps(run, indent=2, default=str) + "\n")
    click.echo(f"wrote {out}: {name} fitted to {len(traj)} frames "
               f"({traj.num_layers} x {traj.dim}) in {seconds:.1f} s")


def _parse_times(text: str):
    import torch

    from ..errors import InputError
    from ..trajectory import TrajectoryError, check_times

    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise InputError(f"--times must be comma-separated numbers: {exc}") from None
    try:
        return check_times(torch.tensor(values, dtype=torch.float64), what="--times")
    except TrajectoryError as exc:
        raise InputError(str(exc)) from None


@click.command("interpolate")
@with_threads
@click.argument("dyn_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--factor", type=click.IntRange(min=1), default=None,
              help="N codes per observed interval: N*(T-1)+1 codes over the same span "
                   "at N times the frame rate [default: 1].")
@click.option("--times", "times_text", default=None, metavar="T1,T2,...",
              help="Arbitrary increasing times in seconds, instead of --factor.")
@click.option("--extrapolate", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Also predict this far past the last frame, at the output frame spacing.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Output .safetensors trajectory.")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--max-output-frames", type=click.IntRange(1),
              help="Refuse outputs longer than this [100000].")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def interpolate(dyn_dir, factor, times_text, extrapolate, out, device, max_output_frames,
                overwrite):
    """Sample the dynamics fitted in DYN_DIR (by `dynode fit`) at new times."""
    from pathlib import Path

    import torch

    from ..dynamics_io import load_dynamics, read_dynamics_info
    from ..edits import extrapolation_count, extrapolation_times, upsample_times
    from ..errors import InputError
    from ..io import OutputError, check_new_output
    from ..run import check_output_size
    from ..trajectory import LatentTrajectory

    if times_text is not None and (factor is not None or extrapolate):
        raise click.UsageError("--times excludes --factor and --extrapolate")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out {out} must end with .safetensors")
    copy = Path(dyn_dir) / TRAJECTORY_COPY
    if out.resolve() == copy.resolve():
        raise OutputError(f"--out {out} is the fitted trajectory's copy; choose another path")
    check_new_output(out, overwrite=overwrite)
    if not copy.is_file():
        raise InputError(f"{dyn_dir} holds no {TRAJECTORY_COPY}; is it a folder written by "
                         "`dynode fit`?")
    traj = LatentTrajectory.load(copy)
    model = load_dynamics(dyn_dir, device=device)
    meta = {k: v for k, v in traj.meta.items() if k != "fps"}
    meta["dynamics"] = read_dynamics_info(dyn_dir)["component"]
    if times_text is not None:
        times = _parse_times(times_text)
        check_output_size(len(times), num_ws=traj.num_layers, latent_dim=traj.dim,
                          resolution=None, folder=out.parent, limit=max_output_frames,
                          what=f"--out {out}")
    else:
        factor = factor or 1
        count, _ = extrapolation_count(traj.times, factor, extrapolate)
        check_output_size(factor * (len(traj) - 1) + 1 + count, num_ws=traj.num_layers,
                          latent_dim=traj.dim, resolution=None, folder=out.parent,
                          limit=max_output_frames, what=f"--out {out}")
        times = torch.cat([upsample_times(traj.times, factor),
                           extrapolation_times(traj.times, factor, extrapolate)])
        meta["interpolation_factor"] = factor
        if "fps" in traj.meta:
            meta["fps"] = float(traj.meta["fps"]) * factor
    codes = torch.as_tensor(model.predict(times)).detach().cpu().float()
    result = LatentTrajectory(times, codes, traj.space, meta)
    result.save(out)
    click.echo(f"wrote {out}: {len(result)} codes from {float(times[0]):g} to "
               f"{float(times[-1]):g} s")


COMMANDS = [fit, interpolate]
