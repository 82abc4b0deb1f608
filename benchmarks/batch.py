"""``dynode batch`` on 8 world clips: local sequential vs ``local --workers 2`` vs ``ray``
with 2 workers. Wall time, peak memory per worker, per-video cost, and the overhead
each executor adds per video (wall time beyond the videos' own seconds / workers).

    python benchmarks/batch.py --out bench-batch/ [--clips 8] [--frames 8]

Each mode runs as its own ``dynode batch`` process; the numbers come from its
batch.json and the run folders' metrics.json (``peak_rss_mb`` of the worker that ran
the video, so the largest per worker is that worker's peak). Writes
``OUT/batch-benchmark.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MOTIONS = ("circle", "bounce", "spin", "hue", "combo", "bounce-spin")
SETTINGS = {"inversion_steps": 2, "dynamics": "linear", "interpolate": 2, "batch_size": 4,
            "device": "cpu"}
MODES = {"local sequential": ["--executor", "local"],
         "local --workers 2": ["--executor", "local", "--workers", "2"],
         "ray --workers 2": ["--executor", "ray", "--workers", "2"]}


def write_manifest(path: Path, clips: int, frames: int) -> Path:
    import tomli_w

    videos = [{"input": f"world:{MOTIONS[i % len(MOTIONS)]}:{frames + 2 * (i // len(MOTIONS))}",
               "name": f"clip-{i}"} for i in range(clips)]
    path.write_text(tomli_w.dumps({**SETTINGS, "video": videos}))
    return path


def run_mode(manifest: Path, out: Path, args: list[str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dynode_core", "batch", str(manifest),
                           "--out", str(out), "--quiet", *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    doc = json.loads((out / "batch.json").read_text())
    peaks: dict[str, float] = {}
    for video in doc["videos"]:
        metrics = json.loads((Path(video["folder"]) / "metrics.json").read_text())
        peaks[video["worker"]] = max(peaks.get(video["worker"], 0.0), metrics["peak_rss_mb"])
    seconds = [v["seconds"] for v in doc["videos"]]
    workers = max(1, doc["workers"])
    return {"wall_s": round(wall, 2), "workers": workers, "threads": doc["threads"],
            "video_s_median": round(statistics.median(seconds), 2),
            "video_s_sum": round(sum(seconds), 2),
            "overhead_per_video_s": round((wall - sum(seconds) / workers) / len(seconds), 3),
            "peak_rss_mb_per_worker": sorted(round(p, 1) for p in peaks.values())}


def ray_start_seconds() -> float | None:
    """How long starting and stopping a local Ray takes here (part of the ray mode's wall)."""
    code = ("import time, ray; t = time.perf_counter(); "
            "ray.init(address='local', num_cpus=2, include_dashboard=False); "
            "ray.get(ray.remote(lambda: 1).remote()); ray.shutdown(); "
            "print(time.perf_counter() - t)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return round(float(proc.stdout.strip().splitlines()[-1]), 2) if proc.returncode == 0 else None


def table(results: dict) -> str:
    rows = ["| mode | wall (s) | workers x threads | median video (s) | overhead / video (s) "
            "| peak RSS per worker (MiB) |", "|---|---|---|---|---|---|"]
    for mode, r in results.items():
        rows.append(f"| {mode} | {r['wall_s']} | {r['workers']} x {r['threads'] or 'default'} | "
                    f"{r['video_s_median']} | {r['overhead_per_video_s']} | "
                    f"{', '.join(map(str, r['peak_rss_mb_per_worker']))} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=False)
    manifest = write_manifest(args.out / "clips.toml", args.clips, args.frames)
    results = {}
    for index, mode in enumerate(m.strip() for m in args.modes.split(",")):
        results[mode] = run_mode(manifest, args.out / f"mode-{index}", MODES[mode])
        print(f"{mode}: {results[mode]}", file=sys.stderr)
    report = {"clips": args.clips, "frames": args.frames, "settings": SETTINGS,
              "ray_start_stop_s": ray_start_seconds(), "modes": results}
    (args.out / "batch-benchmark.json").write_text(json.dumps(report, indent=2))
    print(table(results))
    print(f"\nlocal Ray start + first task + shutdown: {report['ray_start_stop_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
