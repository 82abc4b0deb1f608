"""The optimisation loop the learned models share.

Adam with cosine decay, gradient clipping, a progress callback showing the
loss, early stopping when the loss stops improving, an optional wall-clock
budget, and solver failures (torchdiffeq's dt underflow, NaN losses) turned
into one-line :class:`~dynode_core.errors.DynodeError` with advice.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import torch

from dynode_core import DynodeError
from dynode_core import Progress


class Adam:
    """Adam (Kingma and Ba, 2015), written out because ``torch.optim`` imports
    ``torch._dynamo`` on first use: 2 to 5 s of CPU here, longer than most fits."""

    def __init__(self, params, *, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = list(params)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.steps = 0
        self.mean = [torch.zeros_like(p) for p in self.params]
        self.square = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, lr: float) -> None:
        self.steps += 1
        b1, b2 = self.beta1, self.beta2
        scale = lr / (1 - b1 ** self.steps)
        fix2 = 1 - b2 ** self.steps
        for p, m, v in zip(self.params, self.mean, self.square):
            if p.grad is None:
                continue
            m.mul_(b1).add_(p.grad, alpha=1 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            p.addcdiv_(m, (v / fix2).sqrt_().add_(self.eps), value=-scale)


class SolverError(DynodeError):
    """The differential equation solver failed (step size underflow, NaN)."""


@contextlib.contextmanager
def solver_errors(component: str, advice: str):
    """Turn solver failures inside the block into :class:`SolverError`."""
    try:
        yield
    except AssertionError as exc:
        if not any(word in str(exc) for word in SOLVER_FAILURES):
            raise
        raise SolverError(f"{component}: the solver's step size underflowed ({exc}); "
                          f"the learned dynamics became too stiff: {advice}") from None


#: torchdiffeq's assertion messages when an adaptive solve cannot go on.
SOLVER_FAILURES = ("underflow", "max_num_steps")
#: Restarts after a rejected step before a fit stops with its last good parameters.
RESTARTS = 4
#: Learning-rate factor per restart.
RESTART_FACTOR = 0.1


def _attempt(loss_fn, step: int, params, clip: float | None):
    """One step's loss and gradient: ``((loss, shown), None)``, or ``(None, why)`` when
    the loss or the gradient is not finite or the solve failed (step rejected)."""
    try:
        loss, shown = loss_fn(step)
    except AssertionError as exc:  # torchdiffeq: dt underflow, too many steps
        if not any(word in str(exc) for word in SOLVER_FAILURES):
            raise
        return None, f"the solver failed at step {step} ({exc})"
    if not torch.isfinite(loss):
        return None, f"the loss became {loss.item()} at step {step}"
    for p in params:
        p.grad = None
    loss.backward()
    if clip is not None:
        norm = torch.nn.utils.clip_grad_norm_(params, clip)
        if not torch.isfinite(norm):
            return None, f"the gradient became {norm.item()} at step {step}"
    return (loss, shown), None


def optimise(params, loss_fn: Callable[[int], tuple[torch.Tensor, float]], *, component: str,
             iterations: int, lr: float, progress: Progress, betas=(0.9, 0.999),
             patience: int = 0, check_every: int = 20, min_delta: float = 0.01,
             time_budget: float | None = None, clip: float | None = 10.0,
             decay: bool = True, advice: str = "lower lr or raise the regularisation",
             restarts: int = RESTARTS) -> dict:
    """Minimise ``loss_fn(step) -> (loss, shown)``; returns statistics of the run.

    ``shown`` is the number the progress bar displays. Early stopping (when
    ``patience`` > 0): every ``check_every`` steps the mean loss of the last
    ``check_every`` steps must improve by ``min_delta`` (relative) on the best
    so far, at most ``patience`` times in a row may it fail to.

    Step rejection: a step whose loss or gradient is not finite, or whose solve
    failed, is undone: the parameters go back to the last ones that gave a finite
    loss, Adam's moments are reset and the learning rate is multiplied by
    :data:`RESTART_FACTOR`. After ``restarts`` restarts the fit stops with the last
    good parameters (``stopped``: ``"diverged"``). With ``restarts=0`` a rejected step,
    and without any finite step at all the fit, raises :class:`SolverError` (``advice``
    says what to change). Where no step is
    rejected the steps are exactly those of the plain loop.
    """
    params = [p for p in params if p.requires_grad]
    opt = Adam(params, betas=betas)
    share = 1.0  # of the learning rate, after restarts

    def rate(i: int) -> float:  # cosine decay to a tenth
        return share * (lr * (0.1 + 0.45 * (1 + math.cos(math.pi * min(i / iterations, 1.0))))
                        if decay else lr)
    start = time.perf_counter()
    progress(0, total=iterations, description=f"fit {component}")
    best, stale, recent, stopped, step = math.inf, 0, [], "iterations", -1
    shown, rejected, why, taken = math.nan, 0, "", 0
    good = [p.detach().clone() for p in params]
    for step in range(iterations):
        result, failure = _attempt(loss_fn, step, params, clip)
        if result is None:
            why = failure
            if not restarts:
                raise SolverError(f"{component}: {why}; {advice}")
            rejected += 1
            with torch.no_grad():
                for p, kept in zip(params, good):
                    p.copy_(kept)
            if rejected > restarts:
                stopped = "diverged"
                break
            opt, share = Adam(params, betas=betas), share * RESTART_FACTOR
            continue
        loss, shown = result
        taken += 1
        with torch.no_grad():
            for p, kept in zip(params, good):
                kept.copy_(p)
        opt.step(rate(step))
        progress(1, description=f"fit {component} loss {shown:.3g}")
        recent.append(float(loss.detach()))
        if patience and len(recent) == check_every:
            mean = sum(recent) / len(recent)
            recent = []
            if mean < best * (1 - min_delta):
                best, stale = mean, 0
            else:
                stale += 1
                if stale >= patience:
                    stopped = "early stop"
                    break
        if time_budget is not None and time.perf_counter() - start > time_budget:
            stopped = "time budget"
            break
    if rejected and not taken:  # not one finite step: nothing to keep
        raise SolverError(f"{component}: {why}, and at every lower learning rate tried; "
                          f"{advice}")
    done = step + 1
    if done < iterations:
        progress(iterations - done, description=f"fit {component} loss {shown:.3g} ({stopped})")
    stats = {"steps": done, "loss": float(shown), "seconds": round(time.perf_counter() - start, 3),
             "stopped": stopped}
    if rejected:
        stats.update(restarts=rejected, lr_share=share, rejected=why)
    return stats
