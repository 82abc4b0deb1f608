"""``dynode generate``: a grid of random samples from any registered generator."""

from __future__ import annotations

import click

from ..params import PRECISION, PRECISION_HELP, ComponentName, DEVICE, with_threads

GRID_FORMAT = "dynode.generate/1"


def _grid(frames, columns: int):
    """(N, H, W, 3) uint8 -> one PIL image, ``columns`` wide, row-major, black fill."""
    import numpy as np
    from PIL import Image

    n, h, w, _ = frames.shape
    rows = -(-n // columns)
    canvas = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = frame
    return Image.fromarray(canvas)


@click.command("generate")
@with_threads
@click.option("--generator", "generator_name", type=ComponentName("generators"), required=True,
              help="Registered generator (see `dynode list generators`).")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Weights file, for generators that need one (e.g. stylegan2).")
@click.option("-n", "--num", "num", type=click.IntRange(min=1), default=16, show_default=True,
              help="Number of samples.")
@click.option("--truncation", type=float, default=1.0, show_default=True,
              help="Truncation towards the mean latent (1 = none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the z samples.")
@click.option("--label", type=click.IntRange(min=0), default=None,
              help="Class index, for class-conditional generators.")
@click.option("--noise-mode", type=click.Choice(["const", "random", "none"]), default="const",
              show_default=True, help="Per-layer noise: stored buffers, fresh, or off.")
@click.option("--columns", type=click.IntRange(min=1), default=None,
              help="Grid columns [default: ceil(sqrt(n))].")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--device", type=DEVICE, default="auto",
              show_default=True)
@click.option("--precision", type=PRECISION, default="fp32", help=PRECISION_HELP)
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Output PNG; a JSON with the settings is written beside it.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def generate(generator_name, checkpoint, num, truncation, seed, label, noise_mode, columns,
             batch_size, device, precision, out, overwrite):
    """Render NUM random samples as one PNG grid (plus a JSON of the settings)."""
    import json
    import math
    import platform
    import time
    from pathlib import Path

    import torch
    from rich.progress import Progress

    from .. import __version__
    from ..errors import InputError
    from ..io import atomic_path, atomic_write_text, check_new_output
    from ..plugins import get_registry
    from ..render import to_uint8
    from ..device import resolve_device

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise InputError(f"--out {out} must end with .png")
    meta_path = out.with_suffix(".json")
    if checkpoint is not None and Path(checkpoint).resolve() in (out.resolve(), meta_path.resolve()):
        raise InputError("--out would overwrite the --checkpoint file")
    check_new_output(out, overwrite=overwrite)
    check_new_output(meta_path, overwrite=overwrite)
    from ..compute import apply_precision, check_precision

    device = resolve_device(device)
    check_precision(precision, device)
    start = time.perf_counter()
    generator = get_registry().create("generators", generator_name, checkpoint=checkpoint,
                                      device=device)
    generator = apply_precision(generator, precision, device)
    z = torch.randn(num, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    labelled = {} if label is None else {"label": label}  # passed only when given
    if labelled and not generator.c_dim:
        raise InputError(f"generator '{generator_name}' is not class-conditional: drop --label")
    batches = []
    with torch.no_grad(), Progress(transient=True) as progress:
        task = progress.add_task(f"generating {num} samples", total=num)
        for chunk in z.split(batch_size):
            w = generator.mapping(chunk.to(device), truncation=truncation, **labelled)
            batches.append(to_uint8(generator.synthesize(w, noise_mode=noise_mode)))
            progress.advance(task, len(chunk))
    import numpy as np

    columns = columns or math.ceil(math.sqrt(num))
    image = _grid(np.concatenate(batches), columns)
    with atomic_path(out) as tmp:
        image.save(tmp, format="PNG")
    info = {
        "format": GRID_FORMAT, "generator": generator_name,
        "checkpoint": str(Path(checkpoint).resolve()) if checkpoint else None,
        "num": num, "truncation": truncation, "seed": seed, "noise_mode": noise_mode,
        "precision": precision, "threads": torch.get_num_threads(),
        **labelled,
        "columns": columns, "device": device, "resolution": generator.resolution,
        "latent_dim": generator.latent_dim, "num_ws": generator.num_ws,
        "z": "torch.randn(num, latent_dim, generator=torch.Generator().manual_seed(seed))",
        "seconds": round(time.perf_counter() - start, 3),
        "versions": {"dynode": __version__, "torch": torch.__version__,
                     "python": platform.python_version()},
    }
    atomic_write_text(meta_path, json.dumps(info, indent=2) + "\n")
    click.echo(f"wrote {out} ({image.width}x{image.height}, {num} samples) and {meta_path}")


COMMANDS = [generate]
