"""``dynode bench edit``: edit propagation strategies against the world's true edited videos.

For each motion the clip is inverted and every dynamics fitted on all its frames.
For each world edit (``hue``: +0.25 of the colour wheel, ``size``: x1.3, changed on
frame 0's factors and so through the whole motion: the ground truth of a
consistent edit) frame 0's code is moved along the edit's direction and carried
through the video by every strategy of :data:`dynode_core.edits.PROPAGATIONS`
that applies. The direction is the generator's named one (``supervised:EDIT``) when
it ships one, at the strength that changes frame 0's true factor as the edit does
(:func:`named_strength`); otherwise the ``supervised`` editor fits one from the
regressor's labels of ``samples`` generator samples (cached on disk) and its
strength is calibrated on frame 0 alone: the strength (0 to 4 times the samples'
spread along the direction) whose render the regressor reads closest to frame 0's
edited factors; ``strength_capped`` says the best one was the largest tried.

Scores against the true edited video: PSNR / SSIM, the flicker ratio (metric
``flicker``: mean frame step over the truth's), the motion error (position RMS px
read by the regressor), the edited factor's error, latent MSE against the edited
video's own inverted codes, and the edit consistency in latent space. Rows
``no-edit`` (the unedited inversion) and ``inverted-edited`` (the true edited
video inverted: the best this generator and inverter can do) frame the rest.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .interpolate import method_kind, resolve_methods
from .common import Bench, BenchConfig, Truth, check_motions
from dynode_core import no_progress

DIRECTION_FORMAT = "dynode.bench-direction/1"
#: Strengths tried on frame 0, in multiples of the W samples' spread along the direction.
CALIBRATION = np.linspace(0.0, 4.0, 17)


def strategies(dynamics) -> list[str]:
    """The propagation strategies that apply to ``dynamics`` (``cde`` only to controlled ones)."""
    from dynode_core.app import PROPAGATIONS

    return [s for s in PROPAGATIONS if s != "cde" or dynamics.controlled]


def consistency(dynamics, traj, edit, strategy: str, times) -> tuple[torch.Tensor, dict]:
    """Edited codes at ``times`` and their consistency against the video and the model."""
    from dynode_core.app import propagate_edit, reference_codes
    from dynode_core import get_registry

    start = time.perf_counter()
    edited = propagate_edit(dynamics, traj, edit, strategy=strategy, times=times)
    seconds = time.perf_counter() - start
    video = reference_codes(dynamics, traj, times)
    model = torch.as_tensor(dynamics.propagate(traj.latents[0], times)).float().cpu()
    registry = get_registry()
    vs_video = registry.create("metrics", "edit-consistency", original=video, edited=edited,
                               direction=edit.direction)
    vs_model = registry.create("metrics", "edit-consistency", original=model, edited=edited,
                               direction=edit.direction)
    return edited, {
        "strategy": strategy, "frames": len(times), "seconds": round(seconds, 4),
        "dev_vs_video": vs_video["component_max_rel_dev"],
        "dev_vs_model": vs_model["component_max_rel_dev"],
        "residual_rel_vs_video": vs_video["residual_rel"],
        "residual_rel_vs_model": vs_model["residual_rel"],
        "component": vs_video["component"],
    }


# ---------------------------------------------------------------- directions
def _circular(a, b, period: float = 1.0) -> np.ndarray:
    """a - b wrapped into [-period / 2, period / 2)."""
    return np.remainder(np.asarray(a) - b + period / 2, period) - period / 2


@dataclass(frozen=True)
class EditTarget:
    """How a world edit is read: ``label(reading, target)`` is what a direction is fitted
    to (largest at the target), ``error(reading, target)`` how far a reading misses it,
    in the unit of the score ``metric``."""

    factor: str
    label: Callable
    error: Callable
    metric: str
    relative: bool = False  # the label depends on the target (else one direction serves all)


#: World edit -> how the regressor reads it (readings are dicts of lists).
TARGETS = {
    "hue": EditTarget("hue", lambda r, t: np.cos(2 * math.pi * _circular(r["hue"], t)),
                      lambda r, t: 360 * np.abs(_circular(r["hue"], t)), "hue_deg", True),
    "size": EditTarget("size", lambda r, t: np.asarray(r["size"]),
                       lambda r, t: 64 * np.abs(np.asarray(r["size"]) - t), "size_px"),
}


def _read(bench: Bench, frames) -> dict:
    return bench.registry.create("metrics", "world-factors", frames=frames,
                                 device=bench.device)["factors"]


def _cache_file(bench: Bench, edit_name: str, target: float) -> Path:
    import os

    from dynode_core import weights_fingerprint as fingerprint

    c = bench.config
    root = Path(c.cache) if c.cache else Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dynode" / "bench"
    towards = f"{target:.3f}" if TARGETS[edit_name].relative else "up"
    key = (f"{c.generator}-{fingerprint(bench.generator)}-{edit_name}-{towards}-"
           f"{c.samples}s-seed{c.seed}")
    return root / "directions" / f"{key}.safetensors"


def fitted_direction(bench: Bench, edit_name: str, target: float):
    """A ``supervised`` direction towards ``target`` of the edited factor, fitted from the
    regressor's labels of generator samples; cached on disk."""
    from safetensors.torch import load_file

    from dynode_core import Direction, write_safetensors

    path = _cache_file(bench, edit_name, target)
    if path.is_file():
        return Direction(edit_name, load_file(str(path))["vector"],
                         f"fitted from regressor labels (cached {path.name})")
    spec = TARGETS[edit_name]

    def labels(images):
        return spec.label(_read(bench, images), target)

    editor = bench.registry.get("editors", "supervised").create(
        labels=labels, name=edit_name, samples=bench.config.samples, seed=bench.config.seed,
        model="ridge")
    direction = editor.fitted(bench.generator)
    write_safetensors(path, {"vector": direction.vector}, fmt=DIRECTION_FORMAT,
                      metadata={"description": direction.description})
    return direction


def named_strength(direction, before, after) -> float:
    """The strength of a named world direction (``factor``, ``amount``: what strength 1.0
    moves, ``period`` of a periodic factor) that makes frame 0's true factor change from
    ``before`` to ``after``."""
    factor = getattr(direction, "factor", "")
    amount = float(getattr(direction, "amount", 0.0) or 0.0)
    if not factor or not amount:
        return 1.0
    change = float(getattr(after, factor)[0] - getattr(before, factor)[0])
    period = getattr(direction, "period", None)
    if period:
        change = float(_circular(change, 0.0, period))
    return change / amount


def edit_for(bench: Bench, edit_name: str, truth: Truth, edited: Truth):
    """The resolved :class:`~dynode_core.edits.Edit` of ``edit_name`` and how it was found."""
    from dynode_core.app import Edit, EditSpec, create_editor

    editor = create_editor("supervised")
    named = editor.directions(bench.generator).get(edit_name)
    if named is not None:
        strength = named_strength(named, truth.factors, edited.factors)
        edit = Edit(EditSpec("supervised", edit_name, strength), editor, named)
        return edit, {"direction": "named", "strength": strength,
                      "calibration_error": float("nan"), "strength_capped": False}
    spec = TARGETS[edit_name]
    target = float(getattr(edited.factors, spec.factor)[0])
    direction = fitted_direction(bench, edit_name, target)
    z = torch.randn(256, bench.generator.latent_dim,
                    generator=torch.Generator().manual_seed(bench.config.seed))
    with torch.no_grad():
        w = bench.generator.mapping(z.to(bench.device)).cpu().double()
    unit = direction.vector.double().reshape(-1, w.shape[1])[0]
    spread = float((w @ (unit / unit.norm())).std())
    strengths = CALIBRATION * spread
    codes = torch.stack([editor.apply(truth.codes[0], direction, float(s)) for s in strengths])
    errors = spec.error(_read(bench, bench.render(codes)), target)
    best = int(np.argmin(errors))
    edit = Edit(EditSpec("supervised", edit_name, float(strengths[best])), editor, direction)
    return edit, {"direction": "fitted", "strength": float(strengths[best]),
                  "calibration_error": float(errors[best]),
                  "strength_capped": best == len(strengths) - 1}


# ------------------------------------------------------------------------ run
def run_edit(config: BenchConfig, progress=no_progress, bench: Bench | None = None) -> list[dict]:
    """Rows (one per motion, edit, dynamics and strategy, plus references) of the edit bench."""
    from dynode_core import InputError
    from dynode_core import LatentTrajectory

    unknown = [e for e in config.edits if e not in TARGETS]
    if unknown:
        raise InputError(f"unknown edit(s) {', '.join(unknown)}; valid edits: {', '.join(TARGETS)}")
    check_motions(config.motions)
    dynamics = [m for m in resolve_methods(config.methods) if method_kind(m) == "latent"]
    if not dynamics:
        raise InputError("dynode bench edit needs at least one dynamics in --methods")
    progress(0, total=len(config.motions) * (len(dynamics) * (1 + len(config.edits))
                                             + len(config.edits)))
    bench = bench or Bench(config)
    rows = []
    for motion in config.motions:
        truth = bench.clip(motion)
        traj = LatentTrajectory(truth.times, truth.codes, "w+", {"motion": motion})
        models = {}
        for name in dynamics:
            progress(0, description=f"{motion}: fit {name}")
            models[name] = bench.fit(name, traj)
            progress(1)
        for edit_name in config.edits:
            progress(0, description=f"{motion} {edit_name}: direction")
            edited = bench.clip(motion, edit_name)
            edit, info = edit_for(bench, edit_name, truth, edited)
            base = {"task": "edit", "motion": motion, "edit": edit_name, **info}
            score = _scorer(bench, edited, TARGETS[edit_name].metric)
            rows.append({**base, "method": "inverted-edited", "strategy": "-",
                         "kind": "reference", **score(edited.codes),
                         "seconds": edited.invert_seconds})
            rows.append({**base, "method": "no-edit", "strategy": "-", "kind": "baseline",
                         **score(truth.codes), "seconds": 0.0})
            progress(1)
            for name, (model, fit_seconds) in models.items():
                progress(0, description=f"{motion} {edit_name}: {name}")
                for strategy in strategies(model):
                    codes, stats = consistency(model, traj, edit, strategy, traj.times)
                    rows.append({**base, "method": name, "strategy": strategy, "kind": "latent",
                                 **score(codes), "seconds": fit_seconds + stats["seconds"],
                                 "dev_vs_video": stats["dev_vs_video"],
                                 "residual_rel_vs_video": stats["residual_rel_vs_video"]})
                progress(1)
    return rows


def _scorer(bench: Bench, edited: Truth, metric: str):
    index = np.arange(len(edited.times))

    def score(codes) -> dict:
        frames = bench.render(codes)
        out = bench.score(frames, edited, index, codes)
        out["flicker_ratio"] = bench.registry.create("metrics", "flicker", video=frames,
                                                     original=edited.frames)["ratio"]
        out["edit_error"] = out[metric]
        out["edit_error_unit"] = metric.rsplit("_", 1)[1]
        return out

    return score
