"""Tune ``pti`` on the pivots and crops of an earlier ``dynode run`` folder; score it.

    dynode run carphone_pristine.mp4 --align face --max-frames 48 --out run48
    python benchmarks/tuning_run_pivots.py run48 --edit sefa:0:2 -o time_budget=180

The run's codes (``latents.safetensors``) are the pivots, its crops (``alignment/``, cut
again from the input named in ``config.toml``) the frames; the tuner is the registry's
``pti`` with the ``-o`` options, so settings are compared on the same pivots without
inverting again. Prints one JSON line: steps, seconds, threads and load; the clip's mean
PSNR; 64 random samples rendered by the tuned and the untuned generator (PSNR between the
two: the locality); and with ``--edit``, the warping error (Lai et al., the input crops'
flow) of the reconstruction and of the edit, each over the input crops' own, for the
untuned and the tuned generator (``--edit-aware`` hands the edit to the tuner, as
``dynode run`` does).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
import tomllib
from pathlib import Path

import numpy as np
import torch


def crops(folder: Path, count: int) -> np.ndarray:
    from dynode_core.alignment import frame_batches
    from dynode_core.alignment.types import Alignment
    from dynode_core.alignment.warp import warp_crops
    from dynode_core.inversion.frames import to_generator_input
    from dynode_core.render import to_uint8

    source = tomllib.loads((folder / "config.toml").read_text())["run"]["input"]
    alignment = Alignment.load(folder / "alignment")
    batches = list(frame_batches(source, 16, count))
    if alignment.crop_mode is not None:
        return np.concatenate([to_uint8(to_generator_input(b, alignment.size,
                                                           alignment.crop_mode))
                               for b in batches])
    return warp_crops(np.concatenate(batches), alignment.matrices()[:count], alignment.size)


def mean_psnr(a: np.ndarray, b: np.ndarray) -> float:
    errors = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(errors, 1e-12))))


def value(text: str):
    """An option's value: a JSON number, bool or null, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    from dynode_core import LatentTrajectory, get_registry
    from dynode_core.edits import resolve_edit
    from dynode_core.render import render_batches
    from dynode_core.temporal import warping_error

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--edit")
    parser.add_argument("--edit-aware", action="store_true")
    parser.add_argument("-o", "--option", action="append", default=[])
    args = parser.parse_args()
    options = {k: value(v) for k, v in (o.split("=", 1) for o in args.option)}
    pivots = LatentTrajectory.load(args.run / "latents.safetensors").latents
    frames = crops(args.run, len(pivots))
    targets = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    generator = get_registry().create("generators", "shapes64")
    untuned = copy.deepcopy(generator)
    offsets = None
    if args.edit:
        edit = resolve_edit(args.edit, generator)
        offsets = (edit.apply(pivots[0]) - pivots[0])[None]
    tuner = get_registry().create("tuners", "pti", seed=0, **options)
    extra = {"edits": offsets} if args.edit_aware and offsets is not None else {}
    load, started = os.getloadavg()[0], time.perf_counter()
    stats = tuner.tune(generator, pivots, lambda i: targets[i], **extra)
    out = {"options": options, "edit_aware": bool(extra), "steps": stats["steps"],
           "seconds": round(time.perf_counter() - started, 1),
           "threads": torch.get_num_threads(), "load": [round(load, 2),
                                                        round(os.getloadavg()[0], 2)]}

    def render(g, codes):
        return np.concatenate(list(render_batches(g, codes.float())))

    out["clip_psnr"] = round(mean_psnr(render(generator, pivots), frames), 2)
    z = torch.randn(64, generator.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        w = untuned.mapping(z)[:, None].expand(-1, generator.num_ws, -1)
    out["random_samples_psnr"] = round(mean_psnr(render(untuned, w), render(generator, w)), 2)
    if offsets is not None:
        floor = warping_error(frames, frames)
        for name, g in (("untuned", untuned), ("tuned", generator)):
            rec = warping_error(frames, render(g, pivots)) / floor
            edited = warping_error(frames, render(g, pivots + offsets[0])) / floor
            out[name] = {"reconstruction": round(rec, 3), "edit": round(edited, 3),
                         "edit_over_reconstruction": round(edited / rec, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("DYNODE_THREADS", "1")))
    main()
