"""``dynode bench interpolate``: where latent dynamics beat the obvious alternatives.

Measured on the shapes world, whose clips have exact ground truth at every time.
For each motion the ground-truth clip is rendered and every frame inverted once
(the cache of the clip); then, for each sampling (every k-th frame, or with
``irregular`` also a seeded irregular subset of as many frames over the same
span), each method predicts the held-out frames from the observed ones:

- ``latent`` methods: every registered dynamics, fitted on the observed codes,
  predicts the held-out times, and the codes are rendered by the generator;
- ``pixel`` baselines (:data:`PIXEL`): the nearest observed frame, and a linear
  cross-fade of the two neighbouring observed frames, of the ground-truth renders;
- the ``reference`` :data:`REFERENCE`: the held-out frames' own inverted codes, an upper
  bound for the latent methods: each held-out frame inverted on its own (seeded) by the
  observed frames' inverter with at least ``--reference-steps`` optimisation steps (``e4e``,
  which has none, gives way to ``hybrid``: its encoder + refinement), so no worse than the
  observed codes; the observed codes themselves when that is the same inverter. Its
  ``seconds`` are the held-out frames' inversion seconds, its ``inversion`` says what it was.

Scores against the ground-truth renders: PSNR / SSIM, latent MSE against the held-out
frames' codes from the observed frames' inverter, factor errors read by the world's regressor
(position px, rotation and hue degrees) and wall-clock seconds. Extrapolation: fit on the
first 75% of the clip, predict the last 25%, against :data:`EXTRAPOLATIONS`
(hold the last code, constant velocity from the last two) in latent space.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .common import FORMAT, Bench, BenchConfig, Truth, check_motions
from dynode_core import InputError
from dynode_core import no_progress

__all__ = ["EXTRAPOLATIONS", "FORMAT", "PIXEL", "QUICK", "REFERENCE", "Bench", "BenchConfig",
           "Sampling", "Truth", "method_kind", "method_row", "resolve_methods",
           "run_interpolate", "samplings"]

#: The reference method: the held-out frames' own inverted codes (see Bench.reference).
REFERENCE = "inverted-heldout"
#: Share of a clip the extrapolation task fits on.
EXTRAPOLATE_FIT = 0.75

#: The tiny configuration of ``--quick`` (seconds, for smoke tests and CI).
QUICK = {"motions": ("circle",), "frames": 13, "every": (4,),
         "methods": ("linear", "ode", "nearest-frame", "crossfade", REFERENCE),
         "options": {"ode": {"iterations": 15, "kinetic": 0.1}}, "edits": ("hue",),
         "samples": 64, "reference_steps": 30}


# ------------------------------------------------------------------ baselines
def _nearest(times: torch.Tensor, frames: np.ndarray, obs: np.ndarray, held: np.ndarray):
    gap = (times[held][:, None] - times[obs][None, :]).abs()
    return frames[obs[gap.argmin(1).numpy()]]


def _crossfade(times: torch.Tensor, frames: np.ndarray, obs: np.ndarray, held: np.ndarray):
    right = np.searchsorted(obs, held)
    a, b = obs[right - 1], obs[right]
    w = ((times[held] - times[a]) / (times[b] - times[a])).numpy()[:, None, None, None]
    mix = (1 - w) * frames[a].astype(np.float64) + w * frames[b].astype(np.float64)
    return np.clip(np.rint(mix), 0, 255).astype(np.uint8)


#: Pixel baselines: name -> fn(times, ground-truth frames, observed, held-out) -> frames.
PIXEL = {"nearest-frame": _nearest, "crossfade": _crossfade}


def _hold_last(traj, times: torch.Tensor) -> torch.Tensor:
    return traj.latents[-1].expand(len(times), -1, -1).clone()


def _constant_velocity(traj, times: torch.Tensor) -> torch.Tensor:
    last, prev = traj.latents[-1], traj.latents[-2]
    velocity = (last - prev) / float(traj.times[-1] - traj.times[-2])
    steps = (times - traj.times[-1]).float()[:, None, None]
    return last + steps * velocity


#: Latent extrapolation baselines: name -> fn(observed trajectory, times) -> codes.
EXTRAPOLATIONS = {"hold-last": _hold_last, "constant-velocity": _constant_velocity}


def dynamics_names() -> list[str]:
    from dynode_core import get_registry

    return get_registry().names("dynamics")


def method_kind(name: str) -> str:
    """``latent`` (a dynamics), ``pixel``, ``reference`` or ``baseline`` (extrapolation)."""
    kinds = {**{n: "pixel" for n in PIXEL}, REFERENCE: "reference",
             **{n: "baseline" for n in EXTRAPOLATIONS}}
    return kinds.get(name, "latent")


def resolve_methods(names) -> list[str]:
    """The methods to run (default: every dynamics, the pixel baselines, the reference)."""
    dynamics = dynamics_names()
    if not names:
        return [*dynamics, *PIXEL, REFERENCE]
    valid = [*dynamics, *PIXEL, REFERENCE, *EXTRAPOLATIONS]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise InputError(f"unknown method(s) {', '.join(unknown)}; valid methods: "
                         f"{', '.join(valid)}")
    return list(dict.fromkeys(names))


# ----------------------------------------------------------------- samplings
@dataclass(frozen=True)
class Sampling:
    """Which frames are observed and which are held out."""

    every: int
    irregular: bool
    observed: np.ndarray
    heldout: np.ndarray

    @property
    def label(self) -> str:
        return f"{'irregular' if self.irregular else 'every'} {self.every}"


def samplings(frames: int, every, irregular: bool = False, seed: int = 0) -> list[Sampling]:
    """Every ``k``-th frame for each ``k`` in ``every`` (plus, with ``irregular``, a seeded
    random subset of as many frames over the same span); held out: the frames in between."""
    out = []
    for k in every:
        regular = np.arange(0, frames, int(k))
        if int(k) < 2 or len(regular) < 2:
            raise InputError(f"--every {k} with {frames} frames leaves "
                             f"{'no held-out frames' if int(k) < 2 else 'one observed frame'}; "
                             f"use 2 <= k <= {frames - 1}")
        choices = [(False, regular)]
        if irregular:
            rng = np.random.default_rng([int(seed), int(k)])
            inner = rng.choice(np.arange(1, regular[-1]), len(regular) - 2, replace=False)
            choices.append((True, np.sort(np.concatenate([[0, regular[-1]], inner]))))
        for is_irregular, observed in choices:
            span = np.arange(observed[0], observed[-1] + 1)
            out.append(Sampling(int(k), is_irregular, observed, np.setdiff1d(span, observed)))
    return out


# ------------------------------------------------------------------- methods
def method_row(bench: Bench, name: str, truth: Truth, observed, held) -> dict:
    """Scores of method ``name`` predicting frames ``held`` from frames ``observed``."""
    return _RUNNERS[method_kind(name)](bench, name, truth, np.asarray(observed),
                                       np.asarray(held))


def _latent(bench: Bench, name: str, truth: Truth, observed, held) -> dict:
    traj, times = _trajectory(truth, observed), truth.times[held]
    start = time.perf_counter()
    if name in EXTRAPOLATIONS:
        codes = EXTRAPOLATIONS[name](traj, times)
    else:
        model, _ = bench.fit(name, traj)
        codes = torch.as_tensor(model.predict(times)).detach().float().cpu()
    seconds = time.perf_counter() - start
    return {**bench.score(bench.render(codes), truth, held, codes), "seconds": seconds}


def _reference(bench: Bench, name: str, truth: Truth, observed, held) -> dict:
    codes, seconds = bench.reference(truth, held)
    return {**bench.score(bench.render(codes), truth, held, codes), "seconds": seconds,
            "inversion": bench.reference_inverter()[2]}


def _pixel(bench: Bench, name: str, truth: Truth, observed, held) -> dict:
    start = time.perf_counter()
    frames = PIXEL[name](truth.times, truth.frames, observed, held)
    seconds = time.perf_counter() - start
    return {**bench.score(frames, truth, held), "seconds": seconds}


#: kind -> fn(bench, method, truth, observed, held-out) -> scores.
_RUNNERS = {"latent": _latent, "baseline": _latent, "pixel": _pixel, "reference": _reference}


def _trajectory(truth: Truth, index: np.ndarray):
    from dynode_core import LatentTrajectory

    idx = torch.as_tensor(index)
    return LatentTrajectory(truth.times[idx], truth.codes[idx], "w+", {"motion": truth.motion})


def run_interpolate(config: BenchConfig, progress=no_progress, bench: Bench | None = None
                    ) -> list[dict]:
    """Rows (one per motion, sampling or extrapolation, and method) of the interpolation bench."""
    methods = resolve_methods(config.methods)
    check_motions(config.motions)
    plans = samplings(config.frames, config.every, config.irregular, config.seed)
    interp = [m for m in methods if method_kind(m) != "baseline"]
    extrap = [m for m in methods if method_kind(m) in ("latent", "reference")]
    extrap += list(EXTRAPOLATIONS)
    per_motion = len(plans) * len(interp) + (len(extrap) if config.extrapolate else 0)
    progress(0, total=len(config.motions) * per_motion)
    bench = bench or Bench(config)
    rows = []
    for motion in config.motions:
        truth = bench.clip(motion)
        for plan in plans:
            base = {"task": "interpolate", "motion": motion, "sampling": plan.label,
                    "every": plan.every, "irregular": plan.irregular,
                    "observed": len(plan.observed), "heldout": len(plan.heldout)}
            for name in interp:
                progress(0, description=f"{motion} {plan.label}: {name}")
                row = method_row(bench, name, truth, plan.observed, plan.heldout)
                rows.append({**base, "method": name, "kind": method_kind(name), **row})
                progress(1)
        if config.extrapolate:
            rows += _extrapolate(bench, truth, extrap, progress)
    return rows


def _extrapolate(bench: Bench, truth: Truth, methods: list[str], progress) -> list[dict]:
    count = len(truth.times)
    fit = max(2, int(round(EXTRAPOLATE_FIT * count)))
    if fit >= count:
        raise InputError(f"extrapolation needs at least 3 frames, got {count}")
    observed, held = np.arange(fit), np.arange(fit, count)
    base = {"task": "extrapolate", "motion": truth.motion, "sampling": f"last {count - fit}",
            "every": 1, "irregular": False, "observed": fit, "heldout": count - fit}
    rows = []
    for name in methods:
        progress(0, description=f"{truth.motion} extrapolate: {name}")
        rows.append({**base, "method": name, "kind": method_kind(name),
                     **method_row(bench, name, truth, observed, held)})
        progress(1)
    return rows
