"""``dynode invert``: a video's frames to W+ codes (a ``dynode.trajectory/1`` file)."""

from __future__ import annotations

import click

from ..params import PRECISION, PRECISION_HELP, ComponentName, DEVICE, with_threads

TORCH_CHECKPOINTS = (".pt", ".pth", ".ckpt")


@click.command("invert")
@with_threads
@click.argument("video", type=click.Path(exists=True))
@click.option("--generator", "generator_name", type=ComponentName("generators"), required=True,
              help="Registered generator (see `dynode list generators`).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Generator weights, for generators that need them (e.g. stylegan2); an "
                   "e4e/pSp --encoder .pt that carries its decoder is used when this is absent.")
@click.option("--encoder", default=None, metavar="NAME|PATH",
              help="Encoder: a registered name (`dynode list encoders`) or an e4e/pSp .pt or "
                   "dynode .safetensors file [default: the one registered for the generator].")
@click.option("--inverter", "inverter_name", type=ComponentName("inverters"), default=None,
              help="e4e, optim or hybrid [default: hybrid when an encoder exists, else optim].")
@click.option("--steps", type=click.IntRange(min=0), default=None,
              help="Optimisation steps (optim: 100, hybrid: 30).")
@click.option("--crop", type=click.Choice(["center", "none"]), default="center", show_default=True,
              help="center: centred square crop then resize; none: resize the whole frame "
                   "(aspect ratio not kept).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--smoothing", type=click.FloatRange(min=0.0), default=0.0, show_default=True,
              help="Temporal Gaussian smoothing of the codes, sigma in frames (0 = off).")
@click.option("--device", type=DEVICE, default="auto",
              show_default=True)
@click.option("--precision", type=PRECISION, default="fp32", help=PRECISION_HELP)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Output .safetensors trajectory; the resumable cache is <out>.cache/.")
@click.option("--resume", is_flag=True, help="Continue from <out>.cache/ of an interrupted run.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def invert(video, generator_name, checkpoint, encoder, inverter_name, steps, crop, batch_size,
           smoothing, device, precision, seed, out, resume, overwrite, quiet):
    """Invert every frame of VIDEO into the generator's W+ space."""
    from pathlib import Path

    import torch

    from ..errors import InputError
    from ..inversion import invert_video
    from ..inversion.cache import clear_cache
    from ..io import check_new_output
    from ..plugins import get_registry
    from ..device import resolve_device

    out = Path(out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out {out} must end with .safetensors")
    if out.resolve() == Path(video).resolve():
        raise InputError("--out must not be the input video")
    check_new_output(out, overwrite=overwrite)
    cache = out.with_name(out.name + ".cache")
    from ..compute import apply_precision, check_precision

    device = resolve_device(device)
    check_precision(precision, device)
    torch.manual_seed(seed)
    component = get_registry().get("generators", generator_name)
    if (checkpoint is None and component.meta.get("needs_checkpoint") and encoder
            and Path(encoder).suffix in TORCH_CHECKPOINTS and Path(encoder).is_file()):
        checkpoint = encoder  # an e4e/pSp file carries its generator as decoder.*
    generator = apply_precision(component.create(checkpoint=checkpoint, device=device),
                                precision, device)
    trajectory = invert_video(
        video, generator, inverter_name, encoder=encoder, steps=steps, seed=seed, device=device,
        generator_name=generator_name, batch_size=batch_size, crop=crop, cache_dir=cache,
        resume=resume, smoothing=smoothing, progress=not quiet,
        meta={"generator": generator_name, "checkpoint": checkpoint, "precision": precision,
              "threads": torch.get_num_threads()})
    trajectory.save(out)
    clear_cache(cache)
    if cache.is_dir() and not any(cache.iterdir()):
        cache.rmdir()
    click.echo(f"wrote {out}: {len(trajectory)} frames, W+ {trajectory.num_layers} x "
               f"{trajectory.dim}, inverter {trajectory.meta['inverter']}")


COMMANDS = [invert]
