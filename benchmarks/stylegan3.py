"""StyleGAN3 synthesis on CPU: dynode's port side by side with NVIDIA's reference path.

NVIDIA's generator (``--reference DIR``: a checkout of NVlabs/stylegan3 kept outside this
repository; on CPU its custom ops fall back to their pure-PyTorch reference code) is built
with random weights (``--seed``), pickled as its training loop would, and the pickle is read
by dynode's loader (nothing from it runs), so both render the same weights from the same z.
Each side renders one image (batch 1, const noise, no grad, float32): dynode after a
warm-up, ``--reps`` times; the reference ``--ref-reps`` times (a 256 px frame takes it most
of a minute). Reported: seconds per image (fastest rep, median too), the speed-up, the max
abs difference of the two images and of the W codes, the torch thread count and the
1-minute load average before and after (the machine may be shared: process CPU seconds
are given beside the wall-clock ones, as they swing less with other jobs' load).

    PYTHONPATH=.:plugins python benchmarks/stylegan3.py --reference /work/scratch/stylegan3 \
        --cfg t --size 256 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import tempfile
import time
import types

CONFIGS = {  # train.py's --cfg, as keyword arguments of NVIDIA's Generator
    "t": {"channel_base": 32768, "channel_max": 512},
    "r": {"channel_base": 65536, "channel_max": 1024, "conv_kernel": 1,
          "use_radial_filters": True},
}


def reference_generator(folder: str, cfg: str, size: int, seed: int):
    """NVIDIA's Generator with random weights (their own initialisation)."""
    import torch

    sys.path.insert(0, folder)
    if "pkg_resources" not in sys.modules:  # removed from recent setuptools; only this is used
        from packaging.version import parse

        sys.modules["pkg_resources"] = types.SimpleNamespace(parse_version=parse)
    from training.networks_stylegan3 import Generator

    torch.manual_seed(seed)
    return Generator(z_dim=512, c_dim=0, w_dim=512, img_resolution=size, img_channels=3,
                     **CONFIGS[cfg]).eval().requires_grad_(False)


def timed(fn, reps: int) -> tuple[list[float], list[float]]:
    """(wall seconds, process CPU seconds) of each of ``reps`` calls."""
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="NVlabs/stylegan3 checkout")
    parser.add_argument("--cfg", choices=sorted(CONFIGS), default="t")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ref-reps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch

    from dynode_stylegan3.loader import load_generator

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    ref = reference_generator(args.reference, args.cfg, args.size, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.pkl")
        with open(path, "wb") as fh:
            pickle.dump({"G_ema": ref, "G": ref, "D": None}, fh)
        ours = load_generator(path)
    z = torch.randn(1, 512, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        ws = ref.mapping(z, None)
        w_diff = (ours.broadcast(ours.mapping(z)) - ws).abs().max().item()
        ours.synthesize(ws)  # warm-up
        dyn_times, dyn_cpu = timed(lambda: ours.synthesize(ws), args.reps)
        ref_times, ref_cpu = timed(lambda: ref.synthesis(ws, noise_mode="const",
                                                         force_fp32=True), args.ref_reps)
        diff = (ours.synthesize(ws) - ref.synthesis(ws, noise_mode="const", force_fp32=True))
    result = {"cfg": args.cfg, "size": args.size, "batch": 1, "threads": args.threads,
              "torch": torch.__version__, "dynode_s": min(dyn_times),
              "dynode_median_s": statistics.median(dyn_times), "reference_s": min(ref_times),
              "reference_median_s": statistics.median(ref_times),
              "speedup": min(ref_times) / min(dyn_times), "dynode_cpu_s": min(dyn_cpu),
              "reference_cpu_s": min(ref_cpu), "speedup_cpu": min(ref_cpu) / min(dyn_cpu),
              "max_abs_diff": diff.abs().max().item(),
              "ws_max_abs_diff": w_diff, "load_before": load_before,
              "load_after": os.getloadavg()[0], "reps": args.reps, "ref_reps": args.ref_reps}
    print(json.dumps(result, indent=1))
    r = result
    print(f"| {args.cfg.upper()} {args.size} px | {args.threads} | {r['reference_s']:.2f} "
          f"({r['reference_cpu_s']:.2f}) | {r['dynode_s']:.2f} ({r['dynode_cpu_s']:.2f}) | "
          f"{r['speedup']:.1f}x ({r['speedup_cpu']:.1f}x) | {r['max_abs_diff']:.1e} | "
          f"{load_before:.1f} / {r['load_after']:.1f} |")
    return result


if __name__ == "__main__":
    main()
