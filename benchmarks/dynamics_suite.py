"""Synthetic motions with known ground truth for the dynamics benchmark.

Every case is a clip of ``FRAMES`` frames at ``FPS`` whose true state is a
low-dimensional motion (a point on a circle, an oscillating slider, a limit
cycle...), mapped into 18 x 512 W+ numbers by a fixed random tanh network,
so the codes move on a curved 2-D manifold as real latent paths do. Each
observed frame gets independent Gaussian "inversion noise" (``noise`` times
the codes' spread over the clip, per number): the models see noisy codes and
are scored against the clean ones.

Two tasks per case:

- interpolation: every k-th frame observed (k in ``EVERY``; the "irregular"
  cases observe as many frames at random positions), every other frame of the
  clip predicted;
- extrapolation: the frames of the first 75% observed at the same spacing,
  the frames of the last 25% predicted (baselines: hold the last observed
  frame, or continue at the constant velocity of the last two).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

FPS = 24.0
FRAMES = 193  # 8 s: four periods of 2 s
PERIOD = 2.0  # seconds
EVERY = (2, 4, 8)
LAYERS, DIM = 18, 512


def _rotation(t, radius=1.0, decay=0.0, squash=1.0, warp=0.0):
    phase = 2 * math.pi * t / PERIOD
    phase = phase + warp * np.sin(phase)
    r = radius * np.exp(-decay * t)
    return np.stack([r * np.cos(phase), squash * r * np.sin(phase)], 1)


def _slider(t, decay=0.0):
    x = np.exp(-decay * t) * np.cos(2 * math.pi * t / PERIOD)
    return np.stack([x, np.zeros_like(x)], 1)


def _van_der_pol(t):
    from scipy.integrate import solve_ivp

    period = 6.6633  # of the mu = 1 cycle in its own time

    def field(_s, x):
        scale = period / PERIOD
        return [scale * x[1], scale * ((1 - x[0] ** 2) * x[1] - x[0])]

    order = np.argsort(t)
    # start on the cycle: run one period first
    warm = solve_ivp(field, (0, PERIOD), [2.0, 0.0], rtol=1e-10, atol=1e-10).y[:, -1]
    sol = solve_ivp(field, (0, float(t.max()) + 1e-9), warm, t_eval=t[order], rtol=1e-10,
                    atol=1e-10)
    out = np.empty((len(t), 2))
    out[order] = sol.y.T / 1.5
    return out


def _line(t):
    x = 2 * t / t.max() - 1 if t.max() > 0 else t
    return np.stack([x, 0.3 * x], 1)


def _sudden_stop(t, stop=0.6):
    end = (FRAMES - 1) / FPS
    x = 2 * np.minimum(t, stop * end) / end - 1
    return np.stack([x, 0.3 * x], 1)


#: case -> (state function of seconds (N,) -> (N, 2), irregular sampling)
MOTIONS = {
    "circle": (lambda t: _rotation(t), False),
    "ellipse": (lambda t: _rotation(t, squash=0.4, warp=0.5), False),
    "spiral": (lambda t: _rotation(t, decay=0.15), False),
    "damped oscillation": (lambda t: _slider(t, decay=0.2), False),
    "oscillation": (lambda t: _slider(t), False),
    "limit cycle": (_van_der_pol, False),
    "constant velocity": (_line, False),
    "sudden stop": (_sudden_stop, False),
    "circle, irregular": (lambda t: _rotation(t), True),
    "limit cycle, irregular": (_van_der_pol, True),
}


class Embedding:
    """A fixed random map R^2 -> R^(18 x 512): z = W2 tanh(W1 x + b1)."""

    def __init__(self, seed: int = 0, hidden: int = 64) -> None:
        rng = np.random.default_rng(seed)
        self.w1 = rng.normal(0, 1.0, (hidden, 2))
        self.b1 = rng.normal(0, 0.5, hidden)
        self.w2 = rng.normal(0, 1.0, (LAYERS * DIM, hidden)) / math.sqrt(hidden)

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        z = np.tanh(x @ self.w1.T + self.b1) @ self.w2.T
        return torch.tensor(z, dtype=torch.float32).reshape(-1, LAYERS, DIM)


@dataclass
class Case:
    """One motion, one spacing: clean codes of the whole clip and the observed frames."""

    motion: str
    every: int
    times: torch.Tensor  # (FRAMES,) float64 seconds
    clean: torch.Tensor  # (FRAMES, L, D)
    observed: np.ndarray  # indices of the observed frames
    noisy: torch.Tensor  # (len(observed), L, D): what the models see

    @property
    def label(self) -> str:
        return f"{self.motion}, every {self.every}"

    @property
    def predicted(self) -> np.ndarray:
        return np.setdiff1d(np.arange(self.observed[0], self.observed[-1] + 1), self.observed)


def observed_frames(count: int, every: int, irregular: bool, seed: int) -> np.ndarray:
    """Every ``every``-th of ``count`` frames, or as many at random (ends kept)."""
    regular = np.arange(0, count, every)
    if not irregular:
        return regular
    rng = np.random.default_rng(seed)
    inner = rng.choice(np.arange(1, regular[-1]), len(regular) - 2, replace=False)
    return np.sort(np.concatenate([[0, regular[-1]], inner]))


def make_case(motion: str, every: int, *, noise: float, embed: Embedding, frames: int = FRAMES,
              seed: int = 0) -> Case:
    state, irregular = MOTIONS[motion]
    times = torch.arange(frames, dtype=torch.float64) / FPS
    clean = embed(state(times.numpy()))
    observed = observed_frames(frames, every, irregular, seed + every)
    spread = float(clean.reshape(frames, -1).std(0).pow(2).mean().sqrt())
    gen = torch.Generator().manual_seed(seed * 1000 + every)
    jitter = torch.randn(clean[observed].shape, generator=gen) * noise * spread
    return Case(motion, every, times, clean, observed, clean[observed] + jitter)


def truncated(case: Case, share: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """(observed frames within the first ``share`` of the clip, the frames after them)."""
    end = int(round(share * (len(case.times) - 1)))
    keep = np.flatnonzero(case.observed <= end)
    return keep, np.arange(case.observed[keep[-1]] + 1, len(case.times))
