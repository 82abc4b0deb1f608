"""``dynode edit``: edit frame 0 of a fitted trajectory and carry the edit through the video."""

from __future__ import annotations

import click

from ..params import DEVICE, ComponentName, Propagation, parse_options, with_threads


def find_trajectory(folder):
    """The ``dynode.trajectory/1`` file that ``dynode fit`` copied into ``folder``."""
    from pathlib import Path

    from safetensors import safe_open

    from ..errors import InputError
    from ..trajectory import FORMAT as TRAJECTORY_FORMAT

    for path in sorted(Path(folder).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as f:
                if (f.metadata() or {}).get("format") == TRAJECTORY_FORMAT:
                    return path
        except Exception:  # noqa: BLE001 - not a trajectory; keep looking
            continue
    raise InputError(f"{folder} holds no trajectory ({TRAJECTORY_FORMAT}); is it a folder "
                     "written by `dynode fit`? Pass --trajectory PATH")


def _load_inputs(dyn_dir, trajectory_path, fps, device):
    from ..trajectory import LatentTrajectory

    dynamics = None
    if dyn_dir is not None:
        from ..dynamics_io import load_dynamics

        dynamics = load_dynamics(dyn_dir, device=device)
    path = trajectory_path or find_trajectory(dyn_dir)
    return dynamics, LatentTrajectory.load(path, fps=fps)


def _list_directions(editor_names, generator, options, limit) -> None:
    from rich.console import Console
    from rich.table import Table

    from ..edits import create_editor, editor_names as all_editors
    from ..errors import DynodeError
    from ..registry import ComponentError

    table = Table("editor", "direction", "shape", "scale", "description")
    for name in editor_names or all_editors():
        try:
            found = create_editor(name, **options).directions(generator)
        except (DynodeError, ComponentError) as exc:
            table.add_row(name, "-", "-", "-", f"[dim]{exc}[/dim]")
            continue
        if not found:
            table.add_row(name, "-", "-", "-", "[dim](none without options; see `dynode list "
                          "editors`)[/dim]")
        for key, direction in list(found.items())[:limit]:
            table.add_row(name, key, "x".join(map(str, direction.vector.shape)),
                          f"{direction.scale:.4g}", direction.description)
        if len(found) > limit:
            table.add_row(name, "...", "", "", f"{len(found) - limit} more (--limit)")
    Console().print(table)


@click.command("edit")
@with_threads
@click.argument("dyn_dir", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--edit", "spec", metavar="EDITOR:DIRECTION[:STRENGTH]",
              help="The edit of frame 0, e.g. sefa:3:2.0 or file:smile.pt:1.5.")
@click.option("--propagate", "strategy", type=Propagation(), default="offset",
              show_default=True, help="How the edit reaches the other frames.")
@click.option("--generator", "generator_name", type=ComponentName("generators"), default=None,
              help="Generator, for editors that read it (sefa, ganspace, supervised).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Weights file, for generators that need one (e.g. stylegan2).")
@click.option("--generator-delta", type=click.Path(dir_okay=False), default=None,
              help="A tuned generator's delta (tuned.safetensors): checked against --generator; "
                   "its named directions stay offered (they live in W, which tuning keeps).")
@click.option("-o", "--editor-option", "editor_options", multiple=True, metavar="KEY=VALUE",
              help="Editor option, repeatable: layers=0-7, components=ffhq_pca.pt, "
                   "labels=smile.csv, folder=directions/, samples=5000, seed=1, rgb=true.")
@click.option("--factor", type=click.IntRange(min=1), default=1, show_default=True,
              help="Codes at N times the frame rate: N*(T-1)+1 frames over the same span.")
@click.option("--trajectory", "trajectory_path", type=click.Path(exists=True, dir_okay=False),
              default=None, help="Observed codes [default: the copy in DYN_DIR]; without "
                                 "DYN_DIR only --propagate offset works.")
@click.option("--fps", type=float, default=None, help="Frame rate of bare code tensors.")
@click.option("--device", type=DEVICE, default="auto",
              show_default=True, help="Device of the generator and the dynamics.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Edited codes (.safetensors, a dynode trajectory).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--list-directions", is_flag=True,
              help="List the directions each editor offers (for --generator), then exit.")
@click.option("--editor", "editors", multiple=True, type=ComponentName("editors"),
              help="With --list-directions: only these (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="With --list-directions: directions shown per editor.")
def edit(dyn_dir, spec, strategy, generator_name, checkpoint, generator_delta, editor_options,
         factor, trajectory_path, fps, device, out, overwrite, list_directions, editors, limit):
    """Edit frame 0 of the trajectory fitted in DYN_DIR (a `dynode fit` folder) and propagate
    the edit to every frame with the fitted dynamics (or as a fixed offset)."""
    from pathlib import Path

    from ..errors import InputError

    options = parse_options(editor_options, "--editor-option")
    generator = None
    if generator_name is not None:
        from ..plugins import get_registry
        from ..device import resolve_device

        generator = get_registry().create("generators", generator_name, checkpoint=checkpoint,
                                          device=resolve_device(device)).eval()
        if generator_delta is not None:  # checked against its base; directions stay the base's
            from ..tuning import read_generator_delta, generator_sha256

            base = read_generator_delta(generator_delta)[1]["base_sha256"]
            if base != generator_sha256(generator):
                raise InputError(f"{generator_delta} was tuned from another generator than "
                                 f"'{generator_name}'")
    if list_directions:
        _list_directions(editors, generator, options, limit)
        return
    if not spec or not out:
        raise click.UsageError("--edit and --out are required (or use --list-directions)")
    if dyn_dir is None and trajectory_path is None:
        raise click.UsageError("give DYN_DIR (a `dynode fit` folder) or --trajectory")
    from ..edits import parse_edit, propagate_edit, reference_codes, resolve_edit, upsample_times
    from ..io import check_new_output

    check_new_output(out, overwrite=overwrite)
    if Path(out).suffix != ".safetensors":
        raise InputError(f"--out {out} must end with .safetensors")
    dynamics, traj = _load_inputs(dyn_dir, trajectory_path, fps, device)
    parsed = parse_edit(spec)
    resolved = resolve_edit(parsed, generator, latent_shape=(traj.num_layers, traj.dim), **options)
    times = upsample_times(traj.times, factor)
    codes = propagate_edit(dynamics, traj, resolved, generator, strategy=strategy, times=times)
    from dynode_core.plugins import get_registry

    report = get_registry().create("metrics", "edit-consistency",
                                   original=reference_codes(dynamics, traj, times), edited=codes,
                                   direction=resolved.direction)
    meta = {"edit": str(parsed), "propagate": strategy, "factor": factor,
            "edit_component_max_rel_dev": report["component_max_rel_dev"],
            "edit_residual_rel": report["residual_rel"]}
    if "fps" in traj.meta:
        meta["fps"] = float(traj.meta["fps"]) * factor
    traj.with_latents(codes, times, **meta).save(out)
    click.echo(f"wrote {out}: {len(times)} codes, {parsed} propagated by {strategy}; the edit's "
               f"component drifts at most {100 * report['component_max_rel_dev']:.2f}% from frame 0, "
               f"residual motion {report['residual_rel']:.3g} of the original's")


COMMANDS = [edit]
