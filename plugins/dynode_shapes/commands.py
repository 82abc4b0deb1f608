"""``dynode world``: render clips of the `shapes` world from the command line."""

from __future__ import annotations

import click


@click.group("world")
def world():
    """The bundled `shapes` world: ground-truth clips with exact in-between frames."""


@world.command("motions")
def motions_command():
    """List the motions and edits."""
    from .motions import EDITS, MOTIONS

    for motion in MOTIONS.values():
        click.echo(f"{motion.name:12s} {motion.description}")
    click.echo(f"edits: {', '.join(EDITS)}")


@world.command("video")
@click.option("--motion", default="circle", show_default=True,
              help="Motion name (see `dynode world motions`).")
@click.option("--frames", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=25.0,
              show_default=True, help="Frame i is at t = i / fps seconds.")
@click.option("--edit", default=None, help="Change one factor of the whole motion: hue | size.")
@click.option("--resolution", type=click.IntRange(min=8), default=64, show_default=True)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="Output video (.mp4, .gif, ...).")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
def video_command(motion, frames, fps, edit, resolution, out, overwrite):
    """Render a clip of MOTION (optionally edited) to --out."""
    from dynode_core import check_new_output

    from .motions import frame_times, get_edit, get_motion

    motion, edit_fn = get_motion(motion), get_edit(edit)
    path = check_new_output(out, overwrite=overwrite)
    times = frame_times(frames, fps)
    _write(path, _frames(motion, edit_fn, times, resolution), fps=fps, total=frames)
    click.echo(f"wrote {path} ({frames} frames, {resolution}x{resolution}, {fps:g} fps)")


def _frames(motion, edit_fn, times, resolution, chunk: int = 256):
    """Rendered (n, H, W, 3) uint8 batches, a chunk at a time (memory stays flat)."""
    from .world import render, to_uint8

    for start in range(0, len(times), chunk):
        factors = motion.factors(times[start:start + chunk])
        if edit_fn is not None:
            factors = edit_fn(factors)
        yield to_uint8(render(factors, resolution)).numpy()


def _write(path, batches, *, fps: float, total: int) -> None:
    from dynode_core import write_video
    from dynode_core.app import Progressor

    with Progressor() as bar:
        advance = bar.task("rendering", total)

        def counted():
            for batch in batches:
                yield batch
                advance(len(batch))

        write_video(path, counted(), fps=fps)

