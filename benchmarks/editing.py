"""Consistent editing: how well an edit made on frame 0 holds through a video.

Two benchmarks, one per subcommand:

``real``: the DynODE paper's real W+ codes (11 frames of a talking face,
``../shared/fixtures/dynode-paper/latents.safetensors``, frame i at t = index / 25)
and e4e's real InterFaceGAN ``smile`` direction (plus ``video-pc0``, the codes'
own first principal direction: an edit inside the span the reduced-space models
see, where ``smile`` lies almost entirely outside it). Each dynamics model is
fitted on all frames, frame 0 is edited (``file:smile.pt:STRENGTH``) and the edit is
propagated with every strategy that applies, at the observed times and at
``--factor`` times as many. Reported per (dynamics, strategy), from
:func:`dynode_editors.metrics.edit_consistency`:

- ``dev_vs_video``: the largest deviation over time of the edit's component
  along the direction, relative to frame 0's, measured against the unedited
  video (observed codes at the observed times, ``predict`` in between);
- ``dev_vs_model``: the same against the unedited path of the same model
  (``propagate`` from the unedited frame 0), which isolates what the edit does
  to the motion from the model's own fitting error;
- ``residual_rel``: the squared motion that differs from the unedited video,
  outside the direction, over the original motion's (vs video / vs model).

``world``: ``dynode bench edit`` on every motion of the bundled `shapes` world:
the clip is inverted, every dynamics fitted, frame 0 edited with the generator's
named, calibrated direction (object hue +0.25, size x1.3), the edit propagated
with every strategy and compared with the exactly rendered edited clip (PSNR,
SSIM, flicker ratio, motion error read by the factor regressor).

    PYTHONPATH=.:plugins python benchmarks/editing.py real --out runs/bench/editing_real.json
    PYTHONPATH=.:plugins python benchmarks/editing.py world --out runs/bench-edit-world
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dynode_shapes.bench.edit import consistency, strategies as _strategies  # shared with dynode bench

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
REAL_DYNAMICS = ("linear", "pchip", "cubic", "ode", "cde", "sde")
WORLD_DYNAMICS = ("linear", "ode", "cde")


def _registry():
    from dynode_core.plugins import get_registry

    return get_registry()


def _fit(name: str, traj, options: dict):
    model = _registry().create("dynamics", name, seed=0, **options.get(name, {}))
    start = time.perf_counter()
    model.fit(traj)
    return model, time.perf_counter() - start


# ----------------------------------------------------------------------------- real
def real_trajectory():
    from safetensors.torch import load_file

    from dynode_core.trajectory import LatentTrajectory

    data = load_file(str(FIXTURES / "dynode-paper" / "latents.safetensors"))
    return LatentTrajectory(data["frame_index"].double() / 25.0, data["latents"][:, 0], "w+",
                            {"source": "dynode-paper", "fps": 25.0 / 4})


def in_span_direction(traj, folder: Path) -> Path:
    """The video's own first principal direction (W+), saved as a direction file: an edit
    the reduced-space dynamics see entirely, unlike ``smile`` (mostly outside the span)."""
    flat = traj.latents.reshape(len(traj), -1).double()
    _, _, vh = torch.linalg.svd(flat - flat.mean(0), full_matrices=False)
    path = folder / "video-pc0.npy"
    np.save(path, vh[0].reshape(traj.num_layers, traj.dim).float().numpy())
    return path


def span_fraction(traj, direction) -> float:
    """Share (norm) of a unit W+ direction inside the span of the centred observed codes."""
    flat = traj.latents.reshape(len(traj), -1).double()
    _, _, vh = torch.linalg.svd(flat - flat.mean(0), full_matrices=False)
    v = direction.vector.double().expand(traj.num_layers, traj.dim).reshape(-1)
    return float((vh[:-1] @ (v / v.norm())).norm())


def run_real(args) -> list[dict]:
    import tempfile

    from dynode_core.edits import resolve_edit, upsample_times

    traj = real_trajectory()
    scratch = Path(tempfile.mkdtemp(prefix="dynode-editing-"))
    files = {"smile": FIXTURES / "e4e" / "directions" / "smile.pt",
             "video-pc0": in_span_direction(traj, scratch)}
    edits = {key: resolve_edit(f"file:{path}:{args.strength}", None,
                               latent_shape=(traj.num_layers, traj.dim))
             for key, path in files.items() if key in args.directions}
    for key, edit in edits.items():
        print(f"{key}: {100 * span_fraction(traj, edit.direction):.1f}% of the direction lies in "
              "the span of the observed codes", flush=True)
    rows = []
    for name in args.dynamics:
        if name not in _registry().names("dynamics"):
            print(f"skip {name}: not registered", file=sys.stderr)
            continue
        model, fit_s = _fit(name, traj, args.options)
        for key, edit in edits.items():
            for factor in sorted({1, args.factor}):
                times = upsample_times(traj.times, factor)
                for strategy in _strategies(model):
                    _, row = consistency(model, traj, edit, strategy, times)
                    rows.append({"direction": key, "dynamics": name, "fit_s": round(fit_s, 2),
                                 "factor": factor, **row})
                    print(_line(rows[-1]), flush=True)
    return rows


def _line(row: dict) -> str:
    return (f"{row.get('direction', ''):9s} {row['dynamics']:8s} {row['strategy']:9s} "
            f"x{row['factor']:<2d} "
            f"dev vs video {row['dev_vs_video']:.2e}  vs model {row['dev_vs_model']:.2e}  "
            f"residual vs video {row['residual_rel_vs_video']:.2e}  vs model "
            f"{row['residual_rel_vs_model']:.2e}  fit {row['fit_s']:.1f}s")


# ---------------------------------------------------------------------------- world
def run_world(args) -> int:
    """``dynode bench edit`` on every world motion (hue +0.25 and size x1.3 with the
    generator's named directions, every propagation strategy), printing its table."""
    from dynode_core.cli import main as dynode
    from dynode_shapes.motions import MOTIONS

    argv = ["bench", "edit", "--motions", ",".join(args.motions or MOTIONS),
            "--frames", str(args.frames), "--methods", ",".join(args.dynamics),
            "--edits", "hue,size", "--generator", args.generator, "--out", args.out,
            "--overwrite", "--device", args.device, "--inverter", args.inverter,
            "--inversion-steps", str(args.inversion_steps)]
    print("$ dynode " + " ".join(argv), flush=True)
    return dynode(argv)


# ------------------------------------------------------------------------------ cli
def _pairs(items: list[str], what: str) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} must be KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _model_options(items: list[str]) -> dict:
    """``ode.iterations=200`` -> {"ode": {"iterations": 200}} (JSON values where they parse)."""
    out: dict = {}
    for key, value in _pairs(items, "--option").items():
        model, _, option = key.partition(".")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
        out.setdefault(model, {})[option] = value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="which", required=True)
    real = sub.add_parser("real", help="real W+ codes + e4e smile direction")
    real.add_argument("--dynamics", nargs="+", default=list(REAL_DYNAMICS))
    real.add_argument("--strength", type=float, default=3.0)
    real.add_argument("--factor", type=int, default=4)
    real.add_argument("--directions", nargs="+", default=["smile", "video-pc0"],
                      choices=["smile", "video-pc0"])
    world = sub.add_parser("world", help="dynode bench edit on every world motion")
    world.add_argument("--generator", default="shapes64")
    world.add_argument("--dynamics", nargs="+", default=list(WORLD_DYNAMICS))
    world.add_argument("--motions", nargs="*", default=None)
    world.add_argument("--frames", type=int, default=33)
    world.add_argument("--device", default="cpu")
    world.add_argument("--inverter", default="hybrid")
    world.add_argument("--inversion-steps", type=int, default=100)
    world.add_argument("--out", default="runs/bench-edit-world", help="the bench's output folder")
    real.add_argument("--option", action="append", default=[], metavar="MODEL.KEY=VALUE",
                      help="dynamics option, e.g. ode.iterations=200")
    real.add_argument("--out", default=None, help="write the rows as JSON")
    args = parser.parse_args(argv)
    if args.which == "world":
        return run_world(args)
    args.options = _model_options(args.option)
    rows = run_real(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
