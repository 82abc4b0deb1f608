"""Shared plumbing of the bundled dynamics: options, seed, device, validation,
the reduced space and the state dict.

A subclass names its options in ``defaults`` and implements ``_build`` (its
torch module, with buffers for everything fitted), ``_fit``, ``_predict`` and
``_propagate`` on reduced coordinates and unit times (see
:mod:`dynode_dynamics.reduced`). Times given to ``_predict``/``_propagate``
are sorted and unique; the base class maps them back to the caller's order.
"""

from __future__ import annotations

import contextlib

import torch

from dynode_core import InputError, check_number, resolve_device
from dynode_core import Dynamics, Progress, no_progress
from dynode_core import LatentTrajectory

from .reduced import ReducedSpace

#: Options every bundled model takes. ``threads``: CPU threads torch uses while
#: fitting and predicting (None: torch's setting). The reduced models run many
#: tiny operations, where one thread is fastest and extra threads only spin.
COMMON_DEFAULTS = {"seed": 0, "device": "cpu", "max_components": 64, "threads": 1}
#: Numeric options that must be at least 1 (counts), or above 0 (steps, rates,
#: tolerances); every other number must be finite and >= 0. Checked for every model.
AT_LEAST_ONE = {"max_components", "threads", "iterations", "width", "depth", "window", "batch",
                "substeps", "frames_per_step", "calibration_samples", "order"}
ABOVE_ZERO = {"lr", "rtol", "atol", "dt", "time_budget"}


def check_numeric_options(name: str, config: dict, defaults: dict) -> dict:
    """``config`` with every number checked by the one validator: an option whose default
    is a number (or None), or that was given a number, must be a finite number in its
    range (an integer where the default is one). Others (names, tuples) pass through."""
    checked = dict(config)
    for key, value in config.items():
        default = defaults.get(key)
        numeric_default = isinstance(default, (int, float)) and not isinstance(default, bool)
        if value is None or isinstance(value, str) or isinstance(value, (tuple, list)):
            continue
        if not (numeric_default or default is None or isinstance(value, (int, float))):
            continue
        integral = default if numeric_default else value
        kind = int if isinstance(integral, int) and not isinstance(integral, bool) else float
        checked[key] = check_number(f"{name} option {key}", value, kind=kind,
                                    minimum=1 if key in AT_LEAST_ONE else 0,
                                    above=0 if key in ABOVE_ZERO else None,
                                    maximum=2**32 - 1 if key == "seed" else 1e9)
    return checked


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Run a block under a fixed torch seed without disturbing the caller's RNG."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def cpu_threads(threads: int | None):
    """Use ``threads`` CPU threads inside the block (None: leave torch's setting)."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def query_times(times, what: str = "times") -> torch.Tensor:
    """Prediction times in seconds: a finite, non-empty 1-D float64 tensor (any order)."""
    if torch.is_tensor(times):
        t = times.detach().to("cpu", torch.float64).reshape(-1)
    else:
        try:
            t = torch.as_tensor(times, dtype=torch.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} must be numbers: {exc}") from exc
    if t.numel() == 0:
        raise InputError(f"{what} is empty")
    if not torch.isfinite(t).all():
        raise InputError(f"{what} must be finite; got {t[~torch.isfinite(t)][0].item()}")
    return t


class ReducedDynamics(Dynamics):
    """Base of the bundled models; see the module docstring."""

    #: Component name, used in messages.
    component = "dynamics"
    #: Model options and their defaults (besides :data:`COMMON_DEFAULTS`).
    defaults: dict = {}
    #: ``predict`` passes through every observed code (adds the keyframe residual).
    passes_keyframes = False
    #: ``predict`` is pulled to the keyframes, so it differs from ``propagate(z0)``.
    keyframe_corrected = False
    #: Whether times before the first observation can be predicted.
    before_start = True

    def __init__(self, **options) -> None:
        valid = {**COMMON_DEFAULTS, **self.defaults}
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise InputError(f"{self.component}: unknown option(s) {', '.join(unknown)}; "
                             f"valid options: {', '.join(sorted(valid))}")
        self.config = check_numeric_options(self.component, {**valid, **options}, valid)
        self.device = torch.device(resolve_device(self.config["device"]))
        self.space: ReducedSpace | None = None
        self.net: torch.nn.Module | None = None
        self.fitted_info: dict = {}
        self.fit_stats: dict = {}
        self._check_options()

    @property
    def fit_loss(self) -> float | None:
        """The training loss at the end of the last fit (None for closed-form models)."""
        return self.fit_stats.get("loss")

    # -------------------------------------------------------- subclass hooks
    def _check_options(self) -> None:
        """Validate option values (raise InputError naming the option)."""

    def _build(self, space: ReducedSpace) -> torch.nn.Module:
        raise NotImplementedError

    def _fit(self, s: torch.Tensor, y: torch.Tensor, progress: Progress) -> None:
        raise NotImplementedError

    def _predict(self, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _propagate(self, y0: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------- contract
    def fit(self, trajectory: LatentTrajectory, *, progress: Progress = no_progress):
        if not isinstance(trajectory, LatentTrajectory):
            raise InputError(f"{self.component}: fit needs a LatentTrajectory, "
                             f"got {type(trajectory).__name__}")
        if len(trajectory) < 2:
            raise InputError(f"{self.component}: a trajectory needs at least 2 frames to fit, "
                             f"got {len(trajectory)}")
        self.space = ReducedSpace.fit(trajectory.latents, trajectory.times,
                                      max_components=self.config["max_components"],
                                      denoise=self.config.get("rank") == "auto",
                                      device=self.device)
        self.fitted_info = {"space": trajectory.space, "meta": dict(trajectory.meta),
                            "frames": len(trajectory), "num_layers": trajectory.num_layers,
                            "dim": trajectory.dim, "components": self.space.components}
        with seeded(self.config["seed"], self.device), cpu_threads(self.config["threads"]):
            self.net = self._build(self.space).to(self.device)
            self._fit_trajectory(trajectory, progress)
        self.net.eval()
        return self

    def _fit_trajectory(self, trajectory: LatentTrajectory, progress: Progress) -> None:
        """Fit on the reduced coordinates; override to use the codes themselves."""
        self._fit(self.space.observed_unit_times, self.space.coords, progress)

    def _predict_codes(self, s: torch.Tensor) -> torch.Tensor:
        """Codes (M, L, D) at sorted unit times; override to skip the reduced space."""
        if self.passes_keyframes:
            extra = self.space.keyframe_residual(s)
        else:  # as propagate(first code) carries it: the first frame's part outside
            extra = None if self.space.lossless else self.space.residual[:1]
        return self.space.decode(self._predict(s), extra)

    def _propagate_codes(self, z0: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """Codes (M, L, D) from the start ``z0`` (L, D) at sorted unit times."""
        y0, outside = self.space.encode(z0)
        return self.space.decode(self._propagate(y0, s), outside)

    def _fitted(self) -> ReducedSpace:
        if self.space is None or self.net is None:
            raise InputError(f"{self.component}: the model is not fitted; call fit() or load it")
        return self.space

    def _unit_query(self, times) -> tuple[torch.Tensor, torch.Tensor]:
        space = self._fitted()
        s = space.unit_time(query_times(times))
        if not self.before_start and float(s.min()) < -1e-6:
            first = float(space.times[0])
            raise InputError(f"{self.component} cannot predict before the first observed time "
                             f"{first:g} s; ask for times >= {first:g}")
        s = s.clamp_min(0.0) if not self.before_start else s
        return torch.unique(s, sorted=True, return_inverse=True)

    @torch.no_grad()
    def predict(self, times) -> torch.Tensor:
        s, inverse = self._unit_query(times)
        with cpu_threads(self.config["threads"]):
            return self._predict_codes(s)[inverse]

    @torch.no_grad()
    def propagate(self, z0, times) -> torch.Tensor:
        space = self._fitted()
        z0 = torch.as_tensor(z0)
        if z0.dim() == 3 and z0.shape[0] == 1:
            z0 = z0[0]
        if tuple(z0.shape) != tuple(space.shape):
            raise InputError(f"{self.component}: z0 must have shape {tuple(space.shape)} "
                             f"(L, D), got {tuple(z0.shape)}")
        if not torch.isfinite(z0).all():
            raise InputError(f"{self.component}: z0 holds NaN or inf")
        s, inverse = self._unit_query(times)
        with cpu_threads(self.config["threads"]):
            return self._propagate_codes(z0.to(self.device, torch.float32), s)[inverse]

    def state_dict(self) -> dict[str, torch.Tensor]:
        space = self._fitted()
        state = dict(space.state_dict())
        state.update({f"model.{k}": v.detach() for k, v in self.net.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.space = ReducedSpace.from_state(state, self.device)
        with seeded(self.config["seed"], self.device):
            net = self._build(self.space).to(self.device)
        net.load_state_dict({k[len("model."):]: v for k, v in state.items()
                             if k.startswith("model.")})
        self.net = net.eval()
