"""``dynode convert``: a generator checkpoint, once, to dynode's safetensors + JSON
(imports only click; the work is imported when the command runs).

Each generator that can convert declares a ``converter`` when it registers
(``converter(source, out, *, network, overwrite) -> Path``); the command looks it up in the
registry, so it converts StyleGAN2 and StyleGAN3 files alike without importing either.
"""

from __future__ import annotations

import click

from dynode_core.app import ComponentName


@click.command("convert")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Output .safetensors; a JSON with the config and source is written beside it.")
@click.option("--generator", type=ComponentName("generators"), default="stylegan2",
              show_default=True, help="Which generator the file holds: stylegan2 or stylegan3.")
@click.option("--network", type=click.Choice(["G_ema", "G"]), default="G_ema", show_default=True,
              help="Which generator of an NVIDIA network pickle (or rosinality g_ema / g).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def convert(source, out, generator, network, overwrite):
    """Convert SOURCE (NVIDIA .pkl, rosinality .pt, e4e/pSp checkpoint, stylegan3-editing .pt)
    to dynode's format.

    Later runs load the .safetensors in milliseconds and never read a pickle again.
    """
    from dynode_core import InputError, get_registry

    registry = get_registry()
    component = registry.get("generators", generator)
    converter = component.meta.get("converter")
    if converter is None:
        able = [name for name in registry.names("generators")
                if registry.get("generators", name).meta.get("converter")]
        raise InputError(f"generator '{generator}' has no converter; these convert: "
                         f"{', '.join(able)}")
    path = converter(source, out, network=network, overwrite=overwrite)
    click.echo(f"wrote {path} and {path.with_suffix('.json')}")
