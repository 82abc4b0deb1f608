"""``dynode tune``: tune a generator on a clip's frames with its inverted codes as pivots."""

from __future__ import annotations

import click

from .. import defaults
from ..params import DEVICE, ComponentName, parse_options, with_threads


@click.command("tune")
@with_threads
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@click.option("--frames", "clip", required=True,
              help="The clip the codes were inverted from (video, GIF, frame folder, world:...).")
@click.option("--generator", type=ComponentName("generators"), default=defaults.GENERATOR,
              show_default=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Generator weights file.")
@click.option("--tuner", type=ComponentName("tuners"), default=defaults.TUNER,
              show_default=True)
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
    from ..progress import Progressor, started_task

    with Progressor() as bar:
        stats = tune_on_clip(latents, clip, out, generator=generator, checkpoint=checkpoint,
                             tuner=tuner, options=parse_options(options, "--option"),
                             crop=crop, device=device, seed=seed, overwrite=overwrite,
                             progress=started_task(bar, f"tune {tuner}"))
    click.echo(f"wrote {out}: {stats['steps']} steps, last batch {stats['final_batch_psnr']} dB")


def tune_on_clip(latents, clip, out, *, generator: str, checkpoint=None, tuner: str,
                 options: dict | None = None, crop: str = "center", device: str = "auto",
                 seed: int = 0, overwrite: bool = False, progress=None) -> dict:
    """The command's work: the clip's frames (streamed once into a frame store, as the
    generator sees them) tune the generator with the codes as pivots; the delta is
    written to ``out``. Checkpoints in ``OUT.state/`` so a rerun resumes. ``progress``:
    a callback for the tuning steps."""
    import tempfile
    from pathlib import Path

    from ..device import resolve_device
    from ..errors import InputError
    from ..interfaces import require
    from ..inversion.frames import FrameStore, to_generator_input
    from ..io import check_new_output
    from ..plugins import get_registry
    from ..render import to_uint8
    from ..trajectory import LatentTrajectory
    from ..tuning import save_generator_delta, tune_generator
    from ..video import read_video

    if Path(out).suffix != ".safetensors":
        raise InputError(f"--out {out}: a generator delta is a .safetensors file "
                         "(e.g. tuned.safetensors)")
    out = check_new_output(Path(out), overwrite=overwrite)
    traj = LatentTrajectory.load(latents)
    device = resolve_device(device)
    model = get_registry().create("generators", generator, checkpoint=checkpoint, device=device)
    if (traj.num_layers, traj.dim) != (model.num_ws, model.latent_dim):
        raise InputError(f"{latents} holds W+ codes of {traj.num_layers} x {traj.dim}, but "
                         f"generator '{generator}' takes {model.num_ws} x {model.latent_dim}")
    model.synthesis_parameters()
    chosen = require(get_registry().create("tuners", tuner, seed=seed, device=device,
                                           **(options or {})), "tuners", tuner)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.exists() else None) as tmp:
        store = FrameStore(Path(tmp))
        for batch in read_video(clip, 16):
            store.append(to_uint8(to_generator_input(batch.frames, model.resolution, crop)))
        if store.count != len(traj):
            raise InputError(f"{clip} has {store.count} frames but {latents} holds "
                             f"{len(traj)} codes")
        if progress is not None:
            progress(0, total=chosen.config.get("steps"))
        stats, delta = tune_generator(chosen, model, traj.latents, store.tensors,
                                      state_dir=out.with_name(out.stem + ".state"),
                                      progress=progress)
    save_generator_delta(out, **delta)
    return stats


COMMANDS = [tune]
