"""The cost of one pivotal-tuning step at 64 / 256 / 1024 px on this CPU.

    python benchmarks/tuning_cost.py --sizes 64 256 1024 --batch 1 --repeats 3

Random StyleGAN2 generators of rosinality's config-f widths (channel multiplier 2, 512-d
W, 8 mapping layers; shapes64's own widths at 64 px), the ``pti`` losses (MSE + SSIM, no
regulariser), one optimiser step per repeat after a warm-up. Prints seconds per step and
peak memory growth; run it beside a measured 64 px tuning to scale that tuning's time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import torch


def step_seconds(size: int, batch: int, repeats: int) -> float:
    from dynode_core import get_registry
    from dynode_stylegan2.model import StyleGAN2Generator

    if size == 64:
        generator = get_registry().create("generators", "shapes64")
    else:
        torch.manual_seed(0)
        generator = StyleGAN2Generator(size, 512, 8, channel_multiplier=2).eval()
    tuner = get_registry().create("tuners", "pti", steps=1, batch=batch, locality=0.0)
    pivots = generator.mean_latent().expand(batch, generator.num_ws, -1).clone()
    frames = torch.rand(batch, 3, size, size) * 2 - 1
    times = []
    for _ in range(repeats + 1):  # one step each; the first is a warm-up
        start = time.perf_counter()
        tuner.tune(generator, pivots, lambda i: frames[i % batch])
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 1024])
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    for size in args.sizes:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        seconds = step_seconds(size, args.batch, args.repeats)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"size": size, "batch": args.batch, "seconds_per_step": round(seconds, 3),
                          "peak_rss_mb": round(peak), "growth_mb": round(peak - before),
                          "threads": args.threads, "load": round(os.getloadavg()[0], 2)}),
              flush=True)


if __name__ == "__main__":
    main()
