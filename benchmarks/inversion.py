"""Memory of video inversion: peak RSS for a long clip vs a short one.

Writes a synthetic clip (moving pattern, --size px) of the longest length once,
then inverts its first N frames for each N in --frames, every run in its own
subprocess (so each reads its own peak RSS), with a small random StyleGAN2
(32 px) and the cheapest inverter (one pass of a tiny random e4e encoder),
through :func:`dynode_core.inversion.invert_video` with the per-batch cache on,
as ``dynode invert`` runs it. Streaming means the peak must not grow with N.

    PYTHONPATH=.:plugins python benchmarks/inversion.py --frames 200 2000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_clip(path: Path, frames: int, size: int) -> None:
    import numpy as np

    from dynode_core.video import write_video

    yy, xx = np.mgrid[0:size, 0:size] / size

    def batches():
        for start in range(0, frames, 50):
            chunk = [np.stack([128 + 100 * np.sin(6 * xx + i / 9), 255 * yy,
                               128 + 100 * np.cos(5 * yy - i / 7)], -1)
                     for i in range(start, min(frames, start + 50))]
            yield np.asarray(chunk, dtype=np.uint8)

    write_video(path, batches(), fps=25)


def first_frames(batches, n: int):
    """The batches holding the first ``n`` frames (the last one cut)."""
    from dynode_core.interfaces import FrameBatch

    for batch in batches:
        if n <= 0:
            return
        yield FrameBatch(batch.frames[:n], batch.times[:n])
        n -= len(batch.frames)


def child(video: str, frames: int, batch_size: int, cache: str) -> dict:
    """Invert the first ``frames`` frames of ``video``; report times and peak RSS."""
    import torch

    from dynode_core.inversion import invert_video
    from dynode_core.app import peak_rss_mb
    from dynode_core.video import read_video
    from dynode_inversion.e4e import EncoderInverter
    from dynode_inversion.encoder import EncoderConfig, StyleEncoder
    from dynode_stylegan2.model import StyleGAN2Generator

    torch.set_num_threads(1)
    torch.manual_seed(0)
    generator = StyleGAN2Generator(32, 64, 2, channels={4: 64, 8: 64, 16: 64, 32: 32}).eval()
    generator.estimate_mean_latent(512)
    encoder = StyleEncoder(EncoderConfig(num_ws=generator.num_ws, style_dim=64, input_size=32,
                                         units=(1, 1, 1, 1), width=0.25)).eval()
    inverter = EncoderInverter(encoder)
    batches = first_frames(read_video(video, batch_size), frames)
    before = peak_rss_mb()
    start = time.perf_counter()
    traj = invert_video(batches, generator, inverter, batch_size=batch_size, cache_dir=cache,
                        progress=False)
    seconds = time.perf_counter() - start
    return {"frames": len(traj), "seconds": round(seconds, 2),
            "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--size", type=int, default=128, help="clip width and height")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "FRAMES"), help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.batch_size, args.cache)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        write_clip(video, max(args.frames), args.size)
        rows = []
        for n in args.frames:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(video), str(n), "--batch-size",
                 str(args.batch_size), "--cache", str(Path(tmp) / f"cache{n}")],
                capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    ratio = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS ratio {rows[-1]['frames']} / {rows[0]['frames']} frames: {ratio:.3f}")
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
