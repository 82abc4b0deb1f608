"""StyleGAN2 generator throughput (images/s) and peak memory on CPU.

Random weights, rosinality's channel table (channel_multiplier 2) at 256 px
(batch 1 and 8) and 1024 px (batch 1), plus a narrow 64 px model (widths
128/128/128/64/32). Each (config, implementation) runs in a fresh process:
a batch-1 warm-up, then up to ``--reps`` timed renders (mapping + synthesis, const
noise, no grad), stopping early once ``--budget`` seconds are spent (at least one);
images/s uses the fastest rep (the median is shown too), and peak memory is the
highest resident set size sampled while rendering. CPU seconds per image (all
threads, fastest rep) are recorded too: on a machine shared with other jobs
(see the recorded 1-minute load average) wall-clock rates swing with their
load, CPU time much less, so speedups are given for both.

Side by side with rosinality/stylegan2-pytorch's own CPU path (``--rosinality
DIR``, a plain checkout: its CUDA extension loader is stubbed out at import, so
its pure-PyTorch fallbacks run) on the same weights and z; the max abs
difference of the two outputs is reported.

    PYTHONPATH=.:plugins python benchmarks/generator.py --rosinality /work/scratch/rosinality

``--side 256,1024`` instead runs the contenders side by side in ONE process,
interleaved (dynode fp32 and bf16, rosinality, the network's bare convolutions): see
``generator_side.py``; the steadiest comparison on a shared machine.

    PYTHONPATH=.:plugins python benchmarks/generator.py --side 256,1024 --threads 1 \
        --rosinality /work/scratch/rosinality --reps 5

``--train`` instead times training steps of the narrow 64 px model (batch 32): a G
step (G forward, D forward, backward), a D step (fake + real) and an R1 step (D double
backward), in CPU and wall seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONFIGS = {
    "256px-b1": {"size": 256, "batch": 1},
    "256px-b8": {"size": 256, "batch": 8},
    "1024px-b1": {"size": 1024, "batch": 1},
    "64px-narrow-b8": {"size": 64, "batch": 8, "style_dim": 128, "n_mlp": 4,
                       "channels": {4: 128, 8: 128, 16: 128, 32: 64, 64: 32}},
}


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class PeakRSS:
    """Samples this process's resident memory every few ms while active."""

    def __enter__(self):
        self.peak, self._stop = _rss_mib(), threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _build(cfg: dict, impl: str, weights: Path, rosinality: str | None):
    """(model, render(z)) for one implementation, loaded with the shared weights."""
    import torch

    state = torch.load(weights, weights_only=True, mmap=True)
    style_dim, n_mlp = cfg.get("style_dim", 512), cfg.get("n_mlp", 8)
    if impl == "dynode":
        from dynode_stylegan2.model import StyleGAN2Generator

        g = StyleGAN2Generator(cfg["size"], style_dim, n_mlp, channels=cfg.get("channels"))
        g.load_state_dict(state)
        return g.eval(), lambda z: g.synthesize(g.mapping(z))
    import torch.utils.cpp_extension as ext

    ext.load = lambda *a, **k: None  # rosinality builds CUDA ops at import; use its CPU branch
    sys.path.insert(0, rosinality)
    from model import Generator  # rosinality's model.py

    g = Generator(cfg["size"], style_dim, n_mlp, channel_multiplier=2)
    g.load_state_dict({k: v for k, v in state.items() if k != "latent_avg"})
    g.eval()
    return g, lambda z: g([z], randomize_noise=False)[0]


def worker(name: str, impl: str, weights: Path, reps: int, budget: float,
           rosinality: str | None, out: Path, threads: int | None = None):
    import torch

    if threads:
        torch.set_num_threads(threads)
    cfg = CONFIGS[name]
    g, render = _build(cfg, impl, weights, rosinality)
    z = torch.randn(cfg["batch"], cfg.get("style_dim", 512),
                    generator=torch.Generator().manual_seed(0))
    times, cpu_times = [], []
    with torch.no_grad():
        render(z[:1])  # warm-up
        base = _rss_mib()
        with PeakRSS() as mem:
            while len(times) < reps and (not times or sum(times) < budget):
                start, cpu = time.perf_counter(), time.process_time()
                images = render(z)
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu)
    torch.save(images[:1].clone(), out.with_suffix(".img.pt"))
    result = {"config": name, "impl": impl, "batch": cfg["batch"], "size": cfg["size"],
              "params_m": round(sum(p.numel() for p in g.parameters()) / 1e6, 2),
              "seconds": [round(t, 3) for t in times],
              "img_per_s": round(cfg["batch"] / min(times), 3),
              "img_per_s_median": round(cfg["batch"] / statistics.median(times), 3),
              "cpu_s_per_img": round(min(cpu_times) / cfg["batch"], 3),
              "rss_before_mib": round(base), "peak_rss_mib": round(mem.peak),
              "threads": torch.get_num_threads(), "load_avg_1m": round(os.getloadavg()[0], 2)}
    out.write_text(json.dumps(result))


def make_weights(name: str, path: Path) -> None:
    import torch

    from dynode_stylegan2.model import StyleGAN2Generator

    cfg = CONFIGS[name]
    torch.manual_seed(0)
    g = StyleGAN2Generator(cfg["size"], cfg.get("style_dim", 512), cfg.get("n_mlp", 8),
                           channels=cfg.get("channels"))
    for p in g.parameters():  # perturb zero-initialised noise strengths and biases too
        p.data.add_(0.05 * torch.randn_like(p))
    torch.save(g.state_dict(), path)


def train_steps(batch: int = 32, reps: int = 2) -> None:
    import torch
    import torch.nn.functional as F

    from dynode_stylegan2.discriminator import Discriminator
    from dynode_stylegan2.model import StyleGAN2Generator

    cfg = CONFIGS["64px-narrow-b8"]
    torch.manual_seed(0)
    g = StyleGAN2Generator(64, cfg["style_dim"], cfg["n_mlp"], channels=cfg["channels"])
    d = Discriminator(64, channels=cfg["channels"])
    real = torch.rand(batch, 3, 64, 64) * 2 - 1

    def fake(grad=True):
        with torch.set_grad_enabled(grad):
            return g.synthesize(g.mapping(torch.randn(batch, cfg["style_dim"])), "random")

    def r1():
        x = real.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
        grad.square().sum().backward()

    steps = {"G step": lambda: F.softplus(-d(fake())).mean().backward(),
             "D step": lambda: (F.softplus(d(fake(False))) + F.softplus(-d(real))).mean().backward(),
             "R1 step": r1}
    for name, step in steps.items():
        step()  # warm-up
        runs = []
        for _ in range(reps):
            cpu, wall = time.process_time(), time.perf_counter()
            step()
            runs.append((time.process_time() - cpu, time.perf_counter() - wall))
        cpu, wall = min(runs)
        print(f"{name:8} batch {batch}: {cpu:.2f} CPU-s, {wall:.2f} s wall "
              f"(threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f})", flush=True)


def side(args) -> None:
    import torch

    from dynode_core.app import bf16_unsupported
    from generator_side import print_rows, side_by_side

    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (int(s) for s in args.side.split(",")):
            name = f"{size}px-b1"
            CONFIGS.setdefault(name, {"size": size, "batch": 1})
            weights = Path(tmp) / f"{name}.pt"
            make_weights(name, weights)
            rows = side_by_side(size, 1, weights, args.reps, args.rosinality,
                                bf16_unsupported("cpu") is None)
            print_rows(rows)
            results += rows
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--reps", type=int, default=3, help="most timed renders per run")
    parser.add_argument("--budget", type=float, default=15.0,
                        help="stop repeating once this many seconds are spent")
    parser.add_argument("--threads", type=int, help="torch threads [default: torch's choice]")
    parser.add_argument("--rosinality", help="checkout of rosinality/stylegan2-pytorch")
    parser.add_argument("--json", help="also write all results here")
    parser.add_argument("--train", action="store_true", help="time training steps instead")
    parser.add_argument("--side", metavar="SIZES",
                        help="in-process side-by-side at these sizes (batch 1), e.g. 256,1024")
    parser.add_argument("--worker", nargs=4, metavar=("CONFIG", "IMPL", "WEIGHTS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return train_steps()
    if args.side:
        return side(args)
    if args.worker:
        name, impl, weights, out = args.worker
        return worker(name, impl, Path(weights), args.reps, args.budget, args.rosinality,
                      Path(out), args.threads)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.configs.split(","):
            weights = Path(tmp) / f"{name}.pt"
            make_weights(name, weights)
            impls = ["dynode"]
            if args.rosinality and "channels" not in CONFIGS[name]:
                impls.append("rosinality")  # its Generator takes no custom channel widths
            row = {}
            for impl in impls:
                out = Path(tmp) / f"{name}-{impl}.json"
                cmd = [sys.executable, __file__, "--reps", str(args.reps),
                       "--budget", str(args.budget),
                       "--worker", name, impl, str(weights), str(out)]
                if args.rosinality:
                    cmd += ["--rosinality", args.rosinality]
                if args.threads:
                    cmd += ["--threads", str(args.threads)]
                subprocess.run(cmd, check=True)
                row[impl] = json.loads(out.read_text())
                results.append(row[impl])
            if "rosinality" in row:
                import torch

                a, b = (torch.load(Path(tmp) / f"{name}-{i}.img.pt") for i in impls)
                ours, theirs = row["dynode"], row["rosinality"]
                ours.update(speedup=round(ours["img_per_s"] / theirs["img_per_s"], 2),
                            cpu_speedup=round(theirs["cpu_s_per_img"] / ours["cpu_s_per_img"], 2),
                            max_abs_diff=float((a - b).abs().max()))
            for r in row.values():
                extra = (f"  vs rosinality: {r['speedup']}x wall, {r['cpu_speedup']}x CPU, "
                         f"max|diff| {r['max_abs_diff']:.1e}" if "speedup" in r else "")
                print(f"{r['config']:15} {r['impl']:10} {r['img_per_s']:7.3f} img/s "
                      f"(median {r['img_per_s_median']:.3f}) {r['cpu_s_per_img']:7.2f} CPU-s/img "
                      f"peak RSS {r['peak_rss_mib']:5d} MiB  load {r['load_avg_1m']:.1f}{extra}",
                      flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
