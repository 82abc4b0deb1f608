"""``ode``: a neural ODE on the reduced, standardised space (docs/dynamics.md).

``order`` 2 (default): the state is position and velocity and the network
gives the acceleration (:mod:`dynode_dynamics.motion`), with a learned velocity
per keyframe, so paths that pass a point twice in different directions can be
followed; ``order`` 1: dy/ds = f(y). ``rank="auto"`` keeps the components above
the noise floor (:func:`dynode_dynamics.reduced.noise_floor_rank`).

Fitting: a gradient-matching start (``pretrain`` steps regressing the field on
the cubic spline's derivatives), then multiple shooting: each step draws up to
``batch`` windows of 1 to ``window`` consecutive keyframe intervals, starts each
at its keyframe and solves them all in one batched ``odeint`` call (plain
backprop, ``train_method`` with ``substeps`` steps per interval), minimising the
squared error at the windows' keyframes plus ``kinetic`` times the path's energy
(squared acceleration for order 2, squared speed for order 1) relative to the
observed one. Training stops early when the loss stops improving.

``kinetic="auto"`` picks the weight from ``kinetic_grid`` by validation: one
copy of the field per weight is fitted to every other keyframe and predicts
the ones left out (all copies and the final fields train together in one
batched solve); the weight with the lowest error wins (within
``kinetic_tolerance`` of it, the strongest).

Prediction inside the observed range uses an endpoint-consistent mode
(``endpoint``, see :mod:`dynode_dynamics.endpoint`) so the path passes through
every keyframe; ``endpoint="none"`` gives the plain initial value solve from the
first keyframe. Past the last keyframe the path is the solve from the last
keyframe (before the first: a backward solve from the first), with ``method``
(dopri5, float32 tolerances ``rtol``/``atol``). ``propagate`` is the plain
solve from the new start for order 1; for order 2 the first keyframe's solve
moved by the new start's offset (see :meth:`NeuralODEDynamics._propagate`).
"""

from __future__ import annotations

import torch
from torch import nn

from dynode_core import InputError

from .base import ReducedDynamics
from .endpoint import MODES, straight as _straight
from .fields import FieldEnsemble
from .flow import Flow, shared_positions
from .motion import (AccelerationField, SecondOrderModel, collocation_points,
                     spline_velocity)
from .training import optimise, solver_errors

ADVICE = "lower lr, raise kinetic, or use method='rk4'"
#: State-dict key of the validation's verdict for straight lines inside the range.
STRAIGHT_KEY = "ode.straight_inside"


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
        "rank": "auto", "order": 2, "width": 128, "depth": 2,
        "method": "dopri5", "rtol": 1e-3, "atol": 1e-4,
        "train_method": "rk4", "substeps": 2, "iterations": 150, "lr": 1e-2, "window": 8,
        "batch": 16,
        "kinetic": "auto", "kinetic_grid": (1e-4, 1.0), "kinetic_tolerance": 0.0,
        "patience": 3, "time_budget": None, "endpoint": "correction", "pretrain": 300,
    }

    def _check_options(self) -> None:
        if self.config["endpoint"] not in MODES:
            raise InputError(f"ode: unknown endpoint mode {self.config['endpoint']!r}; "
                             f"valid: {', '.join(MODES)}")
        if int(self.config["window"]) < 1 or int(self.config["batch"]) < 1:
            raise InputError("ode: window and batch must be at least 1")
        rank = self.config["rank"]
        if rank != "auto" and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
            raise InputError(f"ode: rank must be 'auto' or an integer >= 1, got {rank!r}")
        if self.config["order"] not in (1, 2):
            raise InputError(f"ode: order must be 1 or 2, got {self.config['order']!r}")

    @property
    def keyframe_corrected(self) -> bool:
        return MODES[self.config["endpoint"]] is not None

    passes_keyframes = keyframe_corrected

    @property
    def second_order(self) -> bool:
        return int(self.config["order"]) == 2

    def _fields(self, members: int, dim: int) -> nn.Module:
        c = self.config
        if self.second_order:
            return AccelerationField(members, dim, int(c["width"]), int(c["depth"]))
        return FieldEnsemble(members, dim, int(c["width"]), int(c["depth"]))

    def _build(self, space) -> torch.nn.Module:
        field = self._fields(1, space.components)
        return self.model_class(field, len(space.times)) if self.second_order else field

    def _starts(self, coords: torch.Tensor, velocity: torch.Tensor | None) -> torch.Tensor:
        """Solver states at keyframes: positions, and velocities for order 2."""
        return coords if velocity is None else torch.cat([coords, velocity], -1)

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
        self.straight_inside = False
        grid = [float(k) for k in c["kinetic_grid"]] if c["kinetic"] == "auto" else [
            float(c["kinetic"])]
        folds = _folds(len(s)) if len(grid) > 1 or self.validates else []
        if not folds and len(grid) > 1:  # too few frames to validate: the strongest weight
            grid = [max(grid)]
        sets = [(s[train], y[train]) for train, _ in folds] + [(s, y)]
        per = len(grid)
        ens, velocities, norm = self._ensemble(sets, per, y.shape[1], y.device)
        weights = torch.tensor(grid * len(sets), device=y.device)
        longest = min(int(c["window"]), min(len(ss) for ss, _ in sets) - 1)
        members = torch.arange(len(weights), device=y.device)[:, None, None]
        copies = torch.arange(per, device=y.device)[:, None]
        k = y.shape[1]

        def loss_fn(_step):
            w = int(torch.randint(1, longest + 1, ()))
            flow = self._flow(ens, method=c["train_method"], span_intervals=w)
            batch = min(int(c["batch"]), len(s) - w)
            rows = torch.arange(batch, device=y.device)[None, :, None]
            times, coords, starts = [], [], []
            for n, (ss, yy) in enumerate(sets):
                first = torch.randint(0, len(ss) - w, (per, batch), device=y.device)
                idx = first[..., None] + torch.arange(w + 1, device=y.device)
                times.append(ss[idx])
                coords.append(yy[idx])
                starts.append(self._starts(yy[first], velocities[n][copies, first]
                                           if velocities else None))
            times, coords = torch.cat(times), torch.cat(coords)  # (M, B, w+1), (M, B, w+1, K)
            dt = times[..., -1] - times[..., 0]
            tau_grid, pos = shared_positions((times - times[..., :1]) / dt[..., None])
            paths, energy = flow.spans(torch.cat(starts), dt, tau_grid, energy=True)
            pred = paths[pos, members, rows][..., :k]
            data = (pred[:, :, 1:] - coords[:, :, 1:]).pow(2).mean((1, 2, 3))
            kinetic = (energy[-1] / dt).mean(1) / norm
            return (data + weights * kinetic).sum(), float(data[-per:].mean().detach())

        if int(c["pretrain"]):
            self._match_gradients(ens, sets, per, norm)
        params = [*ens.parameters(), *velocities]
        self.fit_stats = optimise(params, loss_fn, component="ode",
                                  iterations=int(c["iterations"]), lr=c["lr"],
                                  patience=int(c["patience"]), time_budget=c["time_budget"],
                                  progress=progress, advice=ADVICE)
        with torch.no_grad(), solver_errors("ode", ADVICE):
            choice = self._select(ens, velocities, grid, folds, s, y) if len(grid) > 1 else 0
        self.fit_stats["kinetic"] = grid[choice]
        held_out = [] if not self.validates else [
            (ens.member(f * per + choice), velocities[f][choice] if velocities else None,
             train, held) for f, (train, held) in enumerate(folds)]
        field = ens.member(len(weights) - per + choice)
        if self.second_order:
            self.net = self.model_class(field, len(s)).to(y.device)
            self.net.velocity.copy_(velocities[-1][choice].detach())
        else:
            self.net = field
        with torch.no_grad(), solver_errors(self.component, ADVICE):
            self._after_fit(held_out, s, y)

    def _ensemble(self, sets, per: int, dim: int, device):
        """``per`` field copies per data set, their keyframe velocities (order 2: started
        at the cubic spline's, one tensor (per, T_set, K) per set) and the scale of the
        energy each copy pays for (observed mean square speed, squared for order 2)."""
        ens = self._fields(per * len(sets), dim).to(device)
        speed2 = torch.cat([_mean_square_speed(ss, yy).expand(per) for ss, yy in sets])
        if not self.second_order:
            ens.speed.copy_(speed2.sqrt()[:, None, None])
            return ens, [], speed2
        ens.set_speed(speed2.sqrt())
        velocities = [nn.Parameter(spline_velocity(ss, yy).expand(per, -1, -1).clone())
                      for ss, yy in sets]
        return ens, velocities, speed2.pow(2)

    #: The fitted module of a second-order model (field and keyframe velocities).
    model_class = SecondOrderModel
    #: Whether the fit always keeps the validation folds (for :meth:`_after_fit`).
    validates = False

    def _after_fit(self, held_out, s, y) -> None:
        """Called, when ``validates``, with the chosen weight's fold fits: (field,
        keyframe velocities, kept, held-out indices) per fold, and the data (s, y)."""

    def _match_gradients(self, ens, sets, per, norm) -> None:
        """Gradient matching: regress the field on the cubic spline's derivatives at
        dense points (its velocity for order 1, its acceleration for order 2), a
        cheap start for the trajectory fit."""
        c = self.config
        count = 8 * (max(len(ss) for ss, _ in sets) - 1)
        points = [collocation_points(ss, yy, count) for ss, yy in sets]
        pos = torch.stack([p for p, _, _ in points]).repeat_interleave(per, 0)
        vel = torch.stack([v for _, v, _ in points]).repeat_interleave(per, 0)
        acc = torch.stack([a for _, _, a in points]).repeat_interleave(per, 0)
        k = pos.shape[-1]
        if self.second_order:
            state, target = torch.cat([pos, vel], -1), acc
        else:
            state, target = pos, vel

        def loss_fn(_step):
            out = ens(state)[..., -k:]
            err = (out - target).pow(2).mean((1, 2)) / norm
            return err.sum(), float(err.mean().detach())

        optimise(ens.parameters(), loss_fn, component="ode (gradient matching)",
                 iterations=int(c["pretrain"]), lr=c["lr"], patience=0,
                 progress=lambda *_a, **_k: None, advice=ADVICE)

    def _select(self, ens, velocities, grid, folds, s, y) -> int:
        """Index of the kinetic weight to keep. Two folds: members fitted on the even
        keyframes predict the odd ones inside their range, and the other way round;
        keep the strongest regularisation whose summed error is within
        ``kinetic_tolerance`` of the best (short paths unless the data say otherwise)."""
        errors = [0.0] * len(grid)
        for f, (train, held) in enumerate(folds):
            knots = s[train]
            for j in range(len(grid)):
                member = ens.member(f * len(grid) + j)
                starts = self._starts(y[train], velocities[f][j] if velocities else None)
                pred = self._interpolate(self._flow(member, knots=knots), knots, starts,
                                         y[train], s[held])
                errors[j] += float((pred - y[held]).pow(2).sum()) / y.shape[1]
        self.fit_stats["validation"] = {str(k): round(e, 6) for k, e in zip(grid, errors)}
        straight = sum(float((_straight(s[train], y[train], s[held]) - y[held]).pow(2).sum())
                       for train, held in folds) / y.shape[1]
        self.fit_stats["validation"]["straight"] = round(straight, 6)
        self.straight_inside = straight < min(errors)
        limit = min(errors) * (1 + float(self.config["kinetic_tolerance"]))
        return max((j for j, e in enumerate(errors) if e <= limit), key=lambda j: grid[j])

    #: Whether the held-out keyframes said straight lines interpolate better than the
    #: fitted field (then ``predict`` is piecewise linear inside the observed range).
    straight_inside = False

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = super().state_dict()
        state[STRAIGHT_KEY] = torch.tensor(self.straight_inside)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if self.second_order and "model.velocity" not in state:
            self.config["order"] = 1  # saved before the second-order field existed
        state = dict(state)
        self.straight_inside = bool(state.pop(STRAIGHT_KEY, torch.tensor(False)))
        super().load_state_dict(state)

    # -------------------------------------------------------------- predict
    def _keyframe_starts(self) -> torch.Tensor:
        velocity = self.net.velocity if self.second_order else None
        return self._starts(self.space.coords, velocity)

    def _predict(self, s) -> torch.Tensor:
        with solver_errors("ode", ADVICE):
            return self._interpolate(self.flow, self.space.observed_unit_times,
                                     self._keyframe_starts(), self.space.coords, s)

    def _interpolate(self, flow: Flow, knots, starts, coords, s) -> torch.Tensor:
        """The path through keyframes (knots, coords) at sorted unit times ``s``;
        ``starts`` are the solver states at the keyframes."""
        mode = MODES[self.config["endpoint"]]
        k = coords.shape[1]
        if mode is None:
            return flow.ivp(starts[0], s - knots[0])[..., :k]
        out = coords.new_empty(len(s), k)
        before, after = s < knots[0], s > knots[-1]
        inside = ~(before | after)
        if before.any():
            out[before] = flow.ivp(starts[0], s[before] - knots[0])[..., :k]
        if inside.any() and self.straight_inside:
            out[inside] = _straight(knots, coords, s[inside])
        elif inside.any():
            out[inside] = mode(flow, knots, starts, coords, s[inside])
        if after.any():
            out[after] = flow.ivp(starts[-1], s[after] - knots[-1])[..., :k]
        return out

    def _propagate(self, y0, s) -> torch.Tensor:
        """Order 1: the plain solve from ``y0``. Order 2: the solve from the first
        keyframe moved by ``y0``'s offset from it. A second-order field treats an
        offset start as a displacement from its equilibrium and swings it back and
        forth (an oscillator's edit changes sign every half period: -4.4 dB against a
        constant offset on the world's circle hue edit), so the edited path keeps the
        original motion and the edit (docs/dynamics.md)."""
        with solver_errors("ode", ADVICE):
            if not self.second_order:
                return self.flow.ivp(y0, s)
            first = self.space.coords[0]
            start = self._starts(first, self.net.velocity[0])
            return self.flow.ivp(start, s)[..., :len(first)] + (y0 - first)
