"""What the default dynamics promise on motions with known ground truth: ``ode``
interpolates an oscillation at least as well as the splines and extrapolates it
far better than the simple guesses; fits repeat for a seed; ``sde``'s sample band
covers the truth about as often as it says. (The full suite with every motion is
``benchmarks/dynamics.py --part synthetic``; docs/dynamics.md has its table.)"""

from __future__ import annotations

import math

import pytest
import torch

from dynode_core.plugins import get_registry
from dynode_core.trajectory import LatentTrajectory

FPS, FRAMES, PERIOD = 24.0, 145, 2.0
LAYERS, DIM = 6, 64


def embed(state: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A fixed random tanh map from R^2 to (LAYERS, DIM) codes."""
    gen = torch.Generator().manual_seed(seed)
    w1, b1 = torch.randn(32, 2, generator=gen), 0.5 * torch.randn(32, generator=gen)
    w2 = torch.randn(LAYERS * DIM, 32, generator=gen) / math.sqrt(32)
    return (torch.tanh(state @ w1.T + b1) @ w2.T).reshape(-1, LAYERS, DIM)


def clip(motion: str, noise: float = 0.02):
    """(times, clean codes, noisy codes) of a 6 s clip at 24 fps."""
    t = torch.arange(FRAMES, dtype=torch.float64) / FPS
    phase = 2 * math.pi * t.float() / PERIOD
    if motion == "oscillation":  # back and forth along one line: needs a velocity state
        state = torch.stack([torch.cos(phase), torch.zeros_like(phase)], 1)
    else:
        state = torch.stack([torch.cos(phase), torch.sin(phase)], 1)
    clean = embed(state)
    spread = float(clean.reshape(FRAMES, -1).std(0).pow(2).mean().sqrt())
    jitter = torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    return t, clean, clean + noise * spread * jitter


def fit(name: str, traj: LatentTrajectory, **options):
    return get_registry().create("dynamics", name, **{"seed": 0, **options}).fit(traj)


def mse(a, b) -> float:
    return float((a - b).pow(2).mean())


@pytest.fixture(scope="module")
def oscillation():
    t, clean, noisy = clip("oscillation")
    observed = torch.arange(0, FRAMES, 4)
    held = torch.tensor([i for i in range(FRAMES) if i % 4])
    traj = LatentTrajectory(t[observed], noisy[observed], "w+", {})
    return t, clean, traj, held


def test_ode_interpolates_an_oscillation_like_the_best_spline(oscillation):
    t, clean, traj, held = oscillation
    errors = {name: mse(fit(name, traj).predict(t[held]), clean[held])
              for name in ("linear", "cubic", "ode")}
    assert errors["ode"] < errors["linear"]
    assert errors["ode"] <= 1.1 * errors["cubic"], errors


def test_ode_extrapolates_an_oscillation_far_better_than_simple_guesses(oscillation):
    t, clean, traj, _ = oscillation
    cut = int(0.75 * (FRAMES - 1))
    seen = traj.subset(torch.nonzero(traj.times <= t[cut]).squeeze(1))
    future = torch.arange(int(round(float(seen.times[-1]) * FPS)) + 1, FRAMES)
    last, prev = seen.latents[-1], seen.latents[-2]
    ahead = (t[future] - seen.times[-1]).float()[:, None, None]
    velocity = (last - prev) / float(seen.times[-1] - seen.times[-2])
    simple = min(mse(last.expand_as(clean[future]), clean[future]),
                 mse(last + ahead * velocity, clean[future]))
    assert mse(fit("ode", seen).predict(t[future]), clean[future]) <= 0.1 * simple


def test_fits_repeat_for_a_seed_and_differ_across_seeds(oscillation):
    t, _, traj, held = oscillation
    a, b = fit("ode", traj, iterations=30), fit("ode", traj, iterations=30)
    assert torch.equal(a.predict(t[held]), b.predict(t[held]))
    other = fit("ode", traj, seed=1, iterations=30)
    assert not torch.equal(other.predict(t[held]), a.predict(t[held]))


def test_sde_band_covers_the_truth_as_often_as_it_says():
    t, clean, noisy = clip("circle")
    observed = torch.arange(0, FRAMES, 4)
    held = torch.tensor([i for i in range(FRAMES) if i % 4])
    model = fit("sde", LatentTrajectory(t[observed], noisy[observed], "w+", {}))
    samples = model.space.encode(model.sample(t[held], 200))[0]
    truth = model.space.encode(clean[held])[0]
    lo, hi = torch.quantile(samples, 0.05, dim=0), torch.quantile(samples, 0.95, dim=0)
    coverage = float(((truth >= lo) & (truth <= hi)).float().mean())
    assert 0.8 <= coverage <= 0.98, coverage
    again = model.sample(t[held], 4, seed=7)
    assert torch.equal(again, model.sample(t[held], 4, seed=7))
