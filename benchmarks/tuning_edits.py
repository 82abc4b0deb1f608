"""Edits through a tuned generator, read by the world's factor regressor.

    python benchmarks/tuning_edits.py --motion circle --frames 16 --steps 300

A world clip is inverted (the bundled hybrid inverter) and the generator tuned on it with
``pti``; then the named ``supervised:hue:1`` and ``supervised:size:1`` edits (the base
generator's directions, applied to every frame's code) are rendered through the untuned and
the tuned generator, and the regressor reads what changed: the hue turn (degrees; the
direction is calibrated to a quarter turn), the size change (px) and how far the other
factors moved (position px, background hue degrees). Also the clip's PSNR and 100 random
samples' PSNR between the tuned and untuned generator (locality).
"""

from __future__ import annotations

import argparse
import copy
import json
import os

import torch


def read(generator, codes):
    from dynode_shapes.regressor import predict_factors

    with torch.no_grad():
        return predict_factors(torch.cat([generator.synthesize(c) for c in codes.split(16)]))


def changes(before, after) -> dict:
    from dynode_shapes.factor_errors import circular_difference

    def turn(a, b):
        return float(circular_difference(b, a, 1.0).mean() * 360)

    return {"hue_deg": round(turn(before.hue, after.hue), 1),
            "size_px": round(float((after.size - before.size).mean() * 64), 2),
            "position_px": round(float(torch.sqrt(((after.x - before.x) * 64) ** 2 +
                                                  ((after.y - before.y) * 64) ** 2).mean()), 2),
            "bg_hue_deg": round(abs(turn(before.bg_hue, after.bg_hue)), 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--motion", default="circle")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from tuning import clip_psnr, sample_psnr  # benchmarks/tuning.py, beside this script

    from dynode_core import get_registry, read_video
    from dynode_core.app import build_inverter, resolve_edit
    from dynode_core.inversion import to_generator_input

    base = get_registry().create("generators", "shapes64")
    frames = torch.cat([to_generator_input(b.frames, 64) for b in
                        read_video(f"world:{args.motion}:{args.frames}", 16)])
    inverter = build_inverter(None, generator_name="shapes64", seed=0)
    codes = torch.cat([inverter.invert(c, base).detach() for c in frames.split(16)])
    tuned = copy.deepcopy(base)
    get_registry().create("tuners", "pti", steps=args.steps, seed=0).tune(
        tuned, codes, lambda i: frames[i])
    rows = {"load": round(os.getloadavg()[0], 2), "steps": args.steps,
            "clip_psnr": {"untuned": clip_psnr(base, codes, frames),
                          "tuned": clip_psnr(tuned, codes, frames)},
            "random_samples_psnr_tuned_vs_untuned": sample_psnr(base, tuned)}
    for spec in ("supervised:hue:1", "supervised:size:1"):
        edit = resolve_edit(spec, base)
        edited = edit.apply(codes)
        for name, generator in (("untuned", base), ("tuned", tuned)):
            rows[f"{spec} {name}"] = changes(read(generator, codes), read(generator, edited))
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
