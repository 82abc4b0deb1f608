"""``dynode convert``: a StyleGAN2 checkpoint, once, to dynode's safetensors + JSON
(imports only click; the work is imported when the command runs)."""

from __future__ import annotations

import click


@click.command("convert")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output .safetensors; a JSON with the config and source is written beside it.")
@click.option("--network", type=click.Choice(["G_ema", "G"]), default="G_ema", show_default=True,
              help="Which generator of an NVIDIA network pickle (or rosinality g_ema / g).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def convert(source, out, network, overwrite):
    """Convert SOURCE (NVIDIA .pkl, rosinality .pt, e4e/pSp checkpoint) to dynode's format.

    Later runs load the .safetensors in milliseconds and never read a pickle again.
    """
    from .loader import convert_checkpoint

    path = convert_checkpoint(source, out, network=network, overwrite=overwrite)
    click.echo(f"wrote {path} and {path.with_suffix('.json')}")
