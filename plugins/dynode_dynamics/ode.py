"""``ode``: a neural ODE dz/dt = f(z) on the reduced, standardised space.

Fitting is multiple shooting: each step draws up to ``batch`` windows of 1 to
``window`` consecutive keyframe intervals, starts each at its observed
keyframe and solves them all in one batched ``odeint`` call (plain backprop,
``train_method`` with ``substeps`` steps per interval), minimising the squared
error at the windows' keyframes plus ``kinetic`` times the path's kinetic
energy (relative to the observed one), which favours short, smooth paths.
Training stops early when the loss stops improving.

``kinetic="auto"`` picks the weight from ``kinetic_grid`` by validation: one
copy of the field per weight is fitted to every other keyframe and predicts
the ones left out (all copies and the final fields train together in one
batched solve); the strongest weight within ``kinetic_tolerance`` of the best
error wins. Smooth motion keeps the weak weight; keyframes that jitter
(independent per-frame inversions) get the strong one, i.e. near-straight paths.

Prediction inside the observed range uses an endpoint-consistent mode
(``endpoint``, see :mod:`dynode_dynamics.endpoint`; ``correction`` measured
best) so the path passes through every keyframe; ``endpoint="none"`` gives the
plain initial value solve from the first keyframe. Past the last keyframe the
path is the solve from the last keyframe (before the first: a backward solve
from the first). Prediction uses ``method`` (dopri5, float32 tolerances
``rtol``/``atol``). ``propagate`` is always the plain solve from the new start.
"""

from __future__ import annotations

import torch

from dynode_core import InputError

from .base import ReducedDynamics
from .endpoint import MODES
from .fields import FieldEnsemble
from .flow import Flow, shared_positions
from .training import optimise, solver_errors

ADVICE = "lower lr, raise kinetic, or use method='rk4'"


def _mean_square_speed(s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared observed speed per coordinate (chords between keyframes)."""
    velocity = (y[1:] - y[:-1]) / (s[1:] - s[:-1])[:, None]
    return velocity.pow(2).mean().clamp_min(1e-12).reshape(1)


def _folds(frames: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(kept, held-out) keyframe indices: even keyframes predict the odd ones between
    them and odd ones the even ones between them (folds with nothing held are dropped)."""
    out = []
    for first in (0, 1):
        kept = torch.arange(first, frames, 2)
        held = torch.arange(first + 1, int(kept[-1]), 2) if len(kept) >= 2 else kept[:0]
        if len(held):
            out.append((kept, held))
    return out


class NeuralODEDynamics(ReducedDynamics):
    """Neural ODE on reduced latents; see the module docstring."""

    component = "ode"
    defaults = {
        "width": 128, "depth": 2, "method": "dopri5", "rtol": 1e-3, "atol": 1e-4,
        "train_method": "rk4", "substeps": 2, "iterations": 150, "lr": 1e-2, "window": 4,
        "batch": 16,
        "kinetic": "auto", "kinetic_grid": (0.01, 1.0), "kinetic_tolerance": 0.1,
        "patience": 3, "time_budget": None, "endpoint": "correction",
    }

    def _check_options(self) -> None:
        if self.config["endpoint"] not in MODES:
            raise InputError(f"ode: unknown endpoint mode {self.config['endpoint']!r}; "
                             f"valid: {', '.join(MODES)}")
        if int(self.config["window"]) < 1 or int(self.config["batch"]) < 1:
            raise InputError("ode: window and batch must be at least 1")

    @property
    def keyframe_corrected(self) -> bool:
        return MODES[self.config["endpoint"]] is not None

    passes_keyframes = keyframe_corrected

    def _build(self, space) -> torch.nn.Module:
        return FieldEnsemble(1, space.components, int(self.config["width"]),
                             int(self.config["depth"]))

    def _flow(self, field, *, method: str | None = None, span_intervals: int = 1,
              knots: torch.Tensor | None = None) -> Flow:
        """Solver settings; fixed-step methods take ``substeps`` steps per keyframe
        interval (spans cover ``span_intervals`` intervals; IVPs use the median
        interval of ``knots``)."""
        c = self.config
        knots = self.space.observed_unit_times if knots is None else knots
        interval = float((knots[1:] - knots[:-1]).median()) if len(knots) > 1 else 1.0
        steps = int(c["substeps"])
        return Flow(field, method=method or c["method"], rtol=c["rtol"], atol=c["atol"],
                    ivp_step=interval / steps, span_step=1.0 / (steps * span_intervals))

    @property
    def flow(self) -> Flow:
        return self._flow(self.net)

    # ------------------------------------------------------------------ fit
    def _fit(self, s, y, progress) -> None:
        c = self.config
        grid = [float(k) for k in c["kinetic_grid"]] if c["kinetic"] == "auto" else [
            float(c["kinetic"])]
        folds = _folds(len(s)) if len(grid) > 1 else []
        if not folds:  # a fixed weight, or too few frames to validate: the strongest
            grid = [max(grid)]
        sets = [(s[train], y[train]) for train, _ in folds] + [(s, y)]
        per = len(grid)
        ens = FieldEnsemble(per * len(sets), y.shape[1], int(c["width"]),
                            int(c["depth"])).to(y.device)
        speed2 = torch.cat([_mean_square_speed(ss, yy).expand(per) for ss, yy in sets])
        ens.speed.copy_(speed2.sqrt()[:, None, None])
        weights = torch.tensor(grid * len(sets), device=y.device)
        longest = min(int(c["window"]), min(len(ss) for ss, _ in sets) - 1)
        members = torch.arange(len(weights), device=y.device)[:, None, None]

        def loss_fn(_step):
            w = int(torch.randint(1, longest + 1, ()))
            flow = self._flow(ens, method=c["train_method"], span_intervals=w)
            batch = min(int(c["batch"]), len(s) - w)
            rows = torch.arange(batch, device=y.device)[None, :, None]
            times, coords = [], []
            for ss, yy in sets:
                starts = torch.randint(0, len(ss) - w, (per, batch), device=y.device)
                idx = starts[..., None] + torch.arange(w + 1, device=y.device)
                times.append(ss[idx])
                coords.append(yy[idx])
            times, coords = torch.cat(times), torch.cat(coords)  # (M, B, w+1), (M, B, w+1, K)
            dt = times[..., -1] - times[..., 0]
            tau_grid, pos = shared_positions((times - times[..., :1]) / dt[..., None])
            paths, energy = flow.spans(coords[:, :, 0], dt, tau_grid, energy=True)
            pred = paths[pos, members, rows]
            data = (pred[:, :, 1:] - coords[:, :, 1:]).pow(2).mean((1, 2, 3))
            kinetic = (energy[-1] / dt).mean(1) / speed2
            return (data + weights * kinetic).sum(), float(data[-per:].mean().detach())

        self.fit_stats = optimise(ens.parameters(), loss_fn, component="ode",
                                  iterations=int(c["iterations"]), lr=c["lr"],
                                  patience=int(c["patience"]), time_budget=c["time_budget"],
                                  progress=progress, advice=ADVICE)
        with torch.no_grad(), solver_errors("ode", ADVICE):
            choice = self._select(ens, grid, folds, s, y) if folds else 0
        self.fit_stats["kinetic"] = grid[choice]
        self.net = ens.member(len(weights) - per + choice)

    def _select(self, ens, grid, folds, s, y) -> int:
        """Index of the kinetic weight to keep. Two folds: members fitted on the even
        keyframes predict the odd ones inside their range, and the other way round;
        keep the strongest regularisation whose summed error is within
        ``kinetic_tolerance`` of the best (short paths unless the data say otherwise)."""
        errors = [0.0] * len(grid)
        for f, (train, held) in enumerate(folds):
            knots = s[train]
            for j in range(len(grid)):
                member = ens.member(f * len(grid) + j)
                pred = self._interpolate(self._flow(member, knots=knots), knots, y[train],
                                         s[held])
                errors[j] += float((pred - y[held]).pow(2).sum()) / y.shape[1]
        self.fit_stats["validation"] = {str(k): round(e, 6) for k, e in zip(grid, errors)}
        limit = min(errors) * (1 + float(self.config["kinetic_tolerance"]))
        return max((j for j, e in enumerate(errors) if e <= limit), key=lambda j: grid[j])

    # -------------------------------------------------------------- predict
    def _predict(self, s) -> torch.Tensor:
        with solver_errors("ode", ADVICE):
            return self._interpolate(self.flow, self.space.observed_unit_times,
                                     self.space.coords, s)

    def _interpolate(self, flow: Flow, knots, coords, s) -> torch.Tensor:
        """The path through keyframes (knots, coords) at sorted unit times ``s``."""
        mode = MODES[self.config["endpoint"]]
        if mode is None:
            return flow.ivp(coords[0], s - knots[0])
        out = coords.new_empty(len(s), coords.shape[1])
        before, after = s < knots[0], s > knots[-1]
        inside = ~(before | after)
        if before.any():
            out[before] = flow.ivp(coords[0], s[before] - knots[0])
        if inside.any():
            out[inside] = mode(flow, knots, coords, s[inside])
        if after.any():
            out[after] = flow.ivp(coords[-1], s[after] - knots[-1])
        return out

    def _propagate(self, y0, s) -> torch.Tensor:
        with solver_errors("ode", ADVICE):
            return self.flow.ivp(y0, s)
