"""1 vs 2 torch threads (``--threads``), without and with a busy neighbour, in one process.

A StyleGAN2 render (256 px, batch 1, random weights, fp32) and an Adam inversion step at
64 px (the bundled generator, batch 8: forward + backward) are timed with 1 and 2
threads, alternating, ``--reps`` rounds; then again while a neighbour process keeps one
core busy (a 1-thread matrix-product loop). Wall and CPU seconds, fastest and median, and
the 1-minute load average before and after each part.

    PYTHONPATH=.:plugins python benchmarks/threads.py --reps 5
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time


def neighbour(stop) -> None:
    import torch

    torch.set_num_threads(1)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = (a @ a).clamp_(-1, 1)


def workloads():
    import torch

    from dynode_core import get_registry
    from dynode_stylegan2.model import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(256).eval()
    for p in g.parameters():
        p.requires_grad_(False)
    z = torch.randn(1, 512)
    small = get_registry().create("generators", "shapes64", device="cpu").eval()
    for p in small.parameters():
        p.requires_grad_(False)
    target = torch.rand(8, 3, 64, 64) * 2 - 1
    w = small.mean_latent().expand(8, small.num_ws, -1).clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)

    def render():
        with torch.no_grad():
            g.synthesize(g.mapping(z))

    def invert_step():
        opt.zero_grad()
        (small.synthesize(w) - target).square().mean().backward()
        opt.step()
    return {"render 256 px": render, "invert step 64 px x8": invert_step}


def measure(fns: dict, reps: int) -> list[dict]:
    import torch

    times = {(name, t): [] for name in fns for t in (1, 2)}
    for name, fn in fns.items():
        fn()  # warm-up
    for _ in range(reps):
        for name, fn in fns.items():
            for threads in (1, 2):
                torch.set_num_threads(threads)
                wall, cpu = time.perf_counter(), time.process_time()
                fn()
                times[(name, threads)].append((time.perf_counter() - wall,
                                               time.process_time() - cpu))
    return [{"work": name, "threads": t, "wall_best": round(min(w for w, _ in v), 3),
             "wall_median": round(statistics.median(w for w, _ in v), 3),
             "cpu_best": round(min(c for _, c in v), 3)} for (name, t), v in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    fns = workloads()
    print("| neighbour | work | threads | wall s best (median) | CPU s best | load before -> after |")
    print("| --- | --- | ---: | ---: | ---: | --- |")
    for busy in (False, True):
        stop = mp.Event()
        proc = mp.Process(target=neighbour, args=(stop,)) if busy else None
        if proc:
            proc.start()
            time.sleep(2)
        before = round(os.getloadavg()[0], 2)
        rows = measure(fns, args.reps)
        after = round(os.getloadavg()[0], 2)
        if proc:
            stop.set()
            proc.join()
        for r in rows:
            print(f"| {'busy (1 core)' if busy else 'none of ours'} | {r['work']} | {r['threads']} | "
                  f"{r['wall_best']:.3f} ({r['wall_median']:.3f}) | {r['cpu_best']:.3f} | "
                  f"{before} -> {after} |", flush=True)


if __name__ == "__main__":
    main()
