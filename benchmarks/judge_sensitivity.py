"""How small a difference the realism judge finds: renders against renders changed by a
known amount, judged exactly as ``world_models.py`` judges generator samples.

Each row trains one judge (the same 3-conv CNN, split, early stop and sizes as the
realism target) on ``--n-real`` world renders against as many other renders changed by
one perturbation at one level (pixel units: [0, 1] intensities or pixels):

``noise``        independent Gaussian noise per pixel and channel, std = level;
``blotches``     a smooth random field (8 x 8 Gaussian noise upsampled bicubically) per
                 image and channel, std = level: low-frequency stains like a GAN's;
``colour``       one random offset per image and channel, std = level;
``blur``         Gaussian blur, std = level px: softer edges;
``supersample``  the same scenes drawn another correct way (4 x 4 box-filtered
                 subsamples per pixel instead of the renderer's 1 px coverage ramp);
``uint8``        rounded to 8-bit levels, as any saved frame is;
``projection``   the bundled generator's closest drawing of each render (its encoder and
                 200 refine steps in W+): what its synthesis network can draw at best.

Beside each accuracy: edge sharpness (world_models.edge_sharpness) and the mean std of
6 x 6 corner patches, the two statistics that place generator samples on the same scale
(``--generator`` adds a row for the bundled model's samples with both).

    PYTHONPATH=.:plugins python benchmarks/judge_sensitivity.py --threads 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch.nn.functional import avg_pool2d, conv2d, interpolate

sys.path[:0] = [p for p in (str(Path(__file__).resolve().parent),) if p not in sys.path]

from world_models import FULL, edge_sharpness, generator_samples, judge, renders  # noqa: E402

from dynode_core.io import atomic_write_text  # noqa: E402
from dynode_core.progress import Progressor  # noqa: E402
from dynode_shapes.world import RESOLUTION, render  # noqa: E402


def noise(images, factors, level, gen, progress):
    return images + 2 * level * torch.randn(images.shape, generator=gen)


def blotches(images, factors, level, gen, progress):
    coarse = torch.randn(len(images), 3, 8, 8, generator=gen)
    field = interpolate(coarse, size=images.shape[-1], mode="bicubic", align_corners=False)
    field = field / field.flatten(2).std(-1)[..., None, None]
    return images + 2 * level * field


def colour(images, factors, level, gen, progress):
    return images + 2 * level * torch.randn(len(images), 3, 1, 1, generator=gen)


def blur(images, factors, level, gen, progress):
    radius = max(1, math.ceil(3 * level))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1.0) / level) ** 2)
    taps = (taps / taps.sum()).repeat(3, 1, 1, 1)  # (3, 1, 1, k): one per channel
    padded = torch.nn.functional.pad(images, (radius,) * 4, mode="replicate")
    rows = conv2d(padded, taps, groups=3)
    return conv2d(rows, taps.transpose(-1, -2), groups=3)


def supersample(images, factors, level, gen, progress, factor: int = 4):
    chunks = [avg_pool2d(render(factors[i:i + 128], RESOLUTION * factor), factor)
              for i in range(0, len(factors), 128)]  # pooled chunk by chunk: 1/16 the memory
    return torch.cat(chunks) * 2 - 1


def uint8(images, factors, level, gen, progress):
    return torch.round((images + 1) * 127.5) / 127.5 - 1


def projection(images, factors, level, gen, progress, batch: int = 25):
    """The bundled generator's closest drawing of each render: W+ inversion by its encoder
    and ``level`` refine steps (world_models' inversion), synthesised with constant noise."""
    from dynode_core.plugins import get_registry

    registry = get_registry()
    generator = registry.create("generators", "shapes64", device="cpu")
    inverter = registry.create("inverters", "hybrid", encoder="shapes64-e4e", steps=int(level),
                               device="cpu")
    out = []
    for chunk in images.split(batch):
        codes = inverter.invert(chunk, generator)
        with torch.no_grad():
            out.append(generator.synthesize(codes, noise_mode="const"))
        progress(len(chunk))
    return torch.cat(out)


#: Perturbations by name, each ``(images in [-1, 1], their factors, level, torch.Generator,
#: progress) -> images``, and the levels a run judges (``None``: the perturbation has none).
#: ``projection`` (slow: ~1.2 s per image with 2 threads at 200 steps, 0.3 s at 50) runs only
#: when named in ``--only``.
PERTURBATIONS = {"noise": (noise, (0.0025, 0.005, 0.01, 0.02)),
                 "blotches": (blotches, (0.0025, 0.005, 0.01, 0.02)),
                 "colour": (colour, (0.005, 0.01, 0.02)),
                 "blur": (blur, (0.35, 0.5, 0.7, 1.0)),
                 "supersample": (supersample, (None,)),
                 "uint8": (uint8, (None,)),
                 "projection": (projection, (200,))}
DEFAULT = [name for name in PERTURBATIONS if name != "projection"]


def corner_std(images: torch.Tensor, patch: int = 6) -> float:
    """Mean over images, channels and the four corners of the std of a ``patch`` square, in
    [0, 1] units (renders: their background's gentle gradient only)."""
    corners = [images[..., :patch, :patch], images[..., :patch, -patch:],
               images[..., -patch:, :patch], images[..., -patch:, -patch:]]
    return float(torch.stack([c.flatten(2).std(-1) for c in corners]).mean() / 2)


def statistics(images: torch.Tensor) -> dict:
    return {"edge_sharpness": edge_sharpness(images[:1000]), "corner_std": corner_std(images)}


def sensitivity(name: str, level, n: int, epochs: int, patience: int, seed: int = 0,
                progressor: Progressor | None = None) -> dict:
    """One judge: ``n`` renders (label 1) against ``n`` other renders perturbed by ``name``."""
    perturb = PERTURBATIONS[name][0]
    real = renders(n, seed + 11)[1]
    factors, other = renders(n, seed + 12)
    label = name if level is None else f"{name} {level:g}"
    bars = progressor or Progressor(enabled=False)
    bar, done = bars.task(f"{label}: changing", len(other)), [0]

    def change(advance=0, **fields):
        done[0] += advance
        bar(advance, **fields)

    changed = perturb(other, factors, level, torch.Generator().manual_seed(seed + 13), change)
    bar(len(other) - done[0])  # the quick perturbations report nothing: the bar ends full
    changed = changed.clamp(-1, 1)
    x, y = torch.cat([real, changed]), torch.cat([torch.ones(n), torch.zeros(n)])
    tick = bars.task(f"judge: {label}", epochs)
    result = judge(x, y, epochs, patience, "cpu", seed, on_epoch=lambda s: tick(1, validation=s))
    tick(0, total=result["epochs_run"])
    return {"perturbation": name, "level": level, **result, **statistics(changed)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", choices=sorted(PERTURBATIONS), default=DEFAULT,
                   help=f"perturbations to judge (default: {' '.join(DEFAULT)})")
    p.add_argument("--n-real", type=int, default=FULL["n_real"])
    p.add_argument("--epochs", type=int, default=FULL["epochs"])
    p.add_argument("--patience", type=int, default=FULL["patience"])
    p.add_argument("--levels", type=float, nargs="+", default=None,
                   help="judge these levels of each perturbation in --only that has levels "
                        "(default: each one's own)")
    p.add_argument("--generator", action="store_true",
                   help="also report the bundled generator's samples' statistics")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None,
                   help="also write the results here (rewritten after every judge)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    small = [k for k in ("n_real", "epochs", "patience") if getattr(args, k) < 1]
    if small:
        p.error(f"--{small[0].replace('_', '-')} must be >= 1")
    if args.levels is not None and min(args.levels) <= 0:
        p.error("--levels must be > 0")
    torch.set_num_threads(args.threads)
    results = {"sizes": {"n_real": args.n_real, "epochs": args.epochs, "patience": args.patience},
               "renders": statistics(renders(min(args.n_real, 2000), 11)[1]), "rows": []}
    if args.generator:
        from dynode_core.plugins import get_registry

        generator = get_registry().create("generators", "shapes64", device="cpu")
        results["samples"] = statistics(generator_samples(generator, min(args.n_real, 2000), 12))
    bars = Progressor(enabled=not args.quiet)
    with bars:
        for name in args.only:
            own = PERTURBATIONS[name][1]
            for level in own if args.levels is None or own == (None,) else args.levels:
                t0 = time.perf_counter()
                row = sensitivity(name, level, args.n_real, args.epochs, args.patience,
                                  progressor=bars)
                row["wall_s"] = round(time.perf_counter() - t0, 1)
                results["rows"].append(row)
                print(json.dumps(row), flush=True)
                if args.json:  # after every judge: a long run that stops keeps what it found
                    atomic_write_text(args.json, json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
