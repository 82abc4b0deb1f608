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

``world``: the bundled `shapes` world with a generator by name (the trained
``shapes64`` once it ships; any generator plus an inverter works). For every
motion and world edit (``hue``, ``size``): render the clip, invert it, fit the
dynamics, edit frame 0 with ``supervised:EDIT:1`` (the generator's named,
calibrated directions; override with ``--spec hue=file:hue.pt:2``), propagate,
render and compare with the exactly rendered edited clip (PSNR / SSIM), with
the flicker ratio to the edited ground truth and the edit consistency.

    PYTHONPATH=.:plugins python benchmarks/editing.py real --out runs/bench/editing_real.json
    PYTHONPATH=.:plugins python benchmarks/editing.py world --generator shapes64 --inverter e4e
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from dynode_core.bench_edit import consistency, strategies as _strategies  # shared with dynode bench

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
def _render(generator, codes, batch_size: int = 16) -> np.ndarray:
    from dynode_core.render import render_all

    return render_all(generator, codes, batch_size=batch_size)


def _invert(inverter, generator, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Images (N, 3, H, W) in [0, 1] to W+ codes (N, L, D), in batches."""
    device = next(generator.parameters()).device
    out = []
    for chunk in (images * 2 - 1).split(batch_size):
        codes = inverter.invert(chunk.to(device), generator)
        out.append(torch.as_tensor(getattr(codes, "latents", codes)).detach().float().cpu())
    return torch.cat(out)


def run_world(args) -> list[dict]:
    from dynode_core.edits import resolve_edit
    from dynode_core.errors import InputError
    from dynode_core.metrics import psnr_ssim
    from dynode_core.trajectory import LatentTrajectory
    from dynode_editors.metrics import flicker
    from dynode_shapes.motions import EDITS, MOTIONS, video
    from dynode_shapes.world import to_uint8

    registry = _registry()
    generator = registry.create("generators", args.generator, checkpoint=args.checkpoint,
                                device=args.device).eval()
    inverter = registry.create("inverters", args.inverter, **args.inverter_options)
    res = generator.resolution
    rows = []
    for motion in args.motions or list(MOTIONS):
        clip = video(motion, args.frames, args.fps, resolution=res)
        codes = _invert(inverter, generator, clip.images, args.batch_size)
        traj = LatentTrajectory(clip.times, codes, "w+", {"motion": motion, "fps": args.fps})
        recon = psnr_ssim(_render(generator, codes), to_uint8(clip.images).numpy())
        for name in args.dynamics:
            model, fit_s = _fit(name, traj, args.options)
            for edit_name in args.edits or list(EDITS):
                truth = to_uint8(video(motion, args.frames, args.fps, edit=edit_name,
                                       resolution=res).images).numpy()
                spec = args.spec.get(edit_name, f"supervised:{edit_name}:1")
                try:
                    edit = resolve_edit(spec, generator)
                except InputError as exc:
                    raise SystemExit(f"{exc}\n{args.generator} offers no direction for "
                                     f"'{edit_name}': pass --spec {edit_name}=EDITOR:DIR:STRENGTH")
                for strategy in _strategies(model):
                    edited, row = consistency(model, traj, edit, strategy, traj.times)
                    frames = _render(generator, edited)
                    row.pop("component")
                    rows.append({
                        "motion": motion, "edit": edit_name, "spec": spec, "dynamics": name,
                        "fit_s": round(fit_s, 2), "recon_psnr": recon["psnr"], **row,
                        **{f"edit_{k}": v for k, v in psnr_ssim(frames, truth).items()},
                        "flicker_ratio": flicker(frames, original=truth)["ratio"],
                    })
                    r = rows[-1]
                    print(f"{motion:11s} {edit_name:5s} {name:7s} {strategy:9s} "
                          f"PSNR {r['edit_psnr']:.2f} (recon {r['recon_psnr']:.2f}) "
                          f"SSIM {r['edit_ssim']:.3f} flicker x{r['flicker_ratio']:.2f} "
                          f"dev {r['dev_vs_video']:.4f}", flush=True)
    return rows


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
    world = sub.add_parser("world", help="the shapes world with a generator by name")
    world.add_argument("--generator", default="shapes64")
    world.add_argument("--checkpoint", default=None)
    world.add_argument("--inverter", default="e4e")
    world.add_argument("--inverter-option", action="append", default=[], metavar="KEY=VALUE")
    world.add_argument("--dynamics", nargs="+", default=list(WORLD_DYNAMICS))
    world.add_argument("--motions", nargs="*", default=None)
    world.add_argument("--edits", nargs="*", default=None)
    world.add_argument("--spec", action="append", default=[], metavar="EDIT=SPEC")
    world.add_argument("--frames", type=int, default=32)
    world.add_argument("--fps", type=float, default=25.0)
    world.add_argument("--batch-size", type=int, default=16)
    world.add_argument("--device", default="cpu")
    for p in (real, world):
        p.add_argument("--option", action="append", default=[], metavar="MODEL.KEY=VALUE",
                       help="dynamics option, e.g. ode.iterations=200")
        p.add_argument("--out", default=None, help="write the rows as JSON")
    args = parser.parse_args(argv)
    args.options = _model_options(args.option)
    if args.which == "world":
        args.spec = _pairs(args.spec, "--spec")
        args.inverter_options = {k: _json(v) for k, v in
                                 _pairs(args.inverter_option, "--inverter-option").items()}
    rows = run_real(args) if args.which == "real" else run_world(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


def _json(value: str):
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


if __name__ == "__main__":
    sys.exit(main())
