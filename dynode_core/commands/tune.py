"""``dynode tune``: tune a generator on a clip's frames with its inverted codes as pivots."""

from __future__ import annotations

import click

from ..params import DEVICE, ComponentName, parse_options


@click.command("tune")
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@click.option("--frames", "clip", required=True,
              help="The clip the codes were inverted from (video, GIF, frame folder, world:...).")
@click.option("--generator", type=ComponentName("generators"), default="shapes64",
              show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Generator weights file.")
@click.option("--tuner", type=ComponentName("tuners"), default="pti", show_default=True)
@click.option("-o", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Tuner option, repeatable: steps=500, lr=0.001, batch=8, locality=0.1 ...")
@click.option("--crop", type=click.Choice(["center", "none"]), default="center",
              show_default=True, help="How the frames were fitted to the generator.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="The delta: tuned.safetensors (the changed tensors only).")
@click.option("--device", type=DEVICE, default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
def tune(latents, clip, generator, checkpoint, tuner, options, crop, out, device, seed,
         overwrite):
    """Tune GENERATOR's synthesis weights so that the codes in LATENTS reproduce the
    frames of the clip they came from; writes only the changed tensors."""
    from ..tuning import tune_on_clip

    stats = tune_on_clip(latents, clip, out, generator=generator, checkpoint=checkpoint,
                         tuner=tuner, options=parse_options(options, "--option"), crop=crop,
                         device=device, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {out}: {stats['steps']} steps, last batch {stats['final_batch_psnr']} dB")


COMMANDS = [tune]
