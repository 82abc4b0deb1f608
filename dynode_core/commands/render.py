"""``dynode render``: codes to frames, thin over :mod:`dynode_core.render`."""

from __future__ import annotations

import click

from .. import defaults
from ..params import DEVICE, PRECISION, PRECISION_HELP, ComponentName, with_threads


@click.command("render")
@with_threads
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@click.option("--generator", type=ComponentName("generators"), default=defaults.GENERATOR,
              show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Generator weights file.")
@click.option("--out", required=True, type=click.Path(),
              help="OUT.mp4 / OUT.gif (video), OUT.png (contact sheet) or a folder (PNG frames).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True),
              help="Frame rate [the codes' own].")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--precision", type=PRECISION, default="fp32", help=PRECISION_HELP)
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
@click.option("--generator-delta", type=click.Path(dir_okay=False),
              help="A tuned generator's delta (tuned.safetensors from --tune / dynode tune).")
@click.option("--transform", type=click.Path(exists=True, dir_okay=False),
              help="Per-frame input transforms (.npy/.pt/.safetensors, (3, 3) or (frames, 3, 3)) "
                   "for generators that take one (stylegan3): the inverse image transform.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
def render(latents, generator, checkpoint, out, fps, device, precision, batch_size,
           generator_delta, transform, overwrite):
    """Render codes (a trajectory file, or the output of interpolate / edit) to frames."""
    from ..render import write_rendering

    path = write_rendering(latents, out, generator=generator, checkpoint=checkpoint, fps=fps,
                           device=device, precision=precision, batch_size=batch_size,
                           overwrite=overwrite,
                           generator_delta=generator_delta, transform=transform)
    click.echo(f"wrote {path}")


COMMANDS = [render]
