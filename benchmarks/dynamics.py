"""Dynamics benchmark: held-out interpolation and extrapolation error of every model.

Part ``real``: the DynODE paper's 11-frame W+ trajectory (18 x 512, in
../shared/fixtures/dynode-paper/). Fit on the 6 even frames, predict the 5 odd
ones; latent MSE (mean over all 9,216 numbers) and fit time for every model,
``ode`` in each endpoint mode, and ``dynode-paper`` given ``ode``'s wall-clock
time as its budget.

Part ``synthetic``: known dynamics in 2-D (a damped rotation, a van der Pol
limit cycle) mapped into 18 x 512 = 9,216 numbers by a fixed random tanh
network, observed over 4 periods at ``--per-period`` samples per period,
regularly or at random times. Held-out: the midpoints between observations.
Extrapolation: 6 times over the 25% of the duration past the last observation,
against holding the last frame and constant velocity from the last two.

Part ``speed``: ``ode`` fit time on a 64-frame 10 x 128 W+ trajectory.

    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part real
    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part synthetic
    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part speed
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from dynode_core.plugins import get_registry
from dynode_core.trajectory import LatentTrajectory

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "dynode-paper"
PERIODS = 4
LEARNED = ("ode", "sde", "cde")
BASELINES = ("linear", "cubic", "pchip")
#: Synthetic columns: label -> (component, options).
SYNTHETIC_MODELS = {**{n: (n, {}) for n in BASELINES + LEARNED},
                    "ode blend": ("ode", {"endpoint": "blend"})}


def mse(a, b) -> float:
    return float((torch.as_tensor(a).float() - torch.as_tensor(b).float()).pow(2).mean())


def timed_fit(name: str, traj: LatentTrajectory, **options):
    model = get_registry().create("dynamics", name, seed=0, device="cpu", **options)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(traj)
    return model, time.perf_counter() - wall, time.process_time() - cpu


# ----------------------------------------------------------------------- real
def run_real() -> list[dict]:
    path = FIXTURE / "latents.safetensors"
    if not path.exists():
        raise SystemExit(f"needs {path}")
    traj = LatentTrajectory.load(path, fps=1.0)
    train, test = traj.subset(slice(0, None, 2)), traj.subset(slice(1, None, 2))
    rows = []

    def add(label, name, **options):
        model, wall, cpu = timed_fit(name, train, **options)
        rows.append({"model": label, "mse": mse(model.predict(test.times), test.latents),
                     "fit_wall_s": wall, "fit_cpu_s": cpu,
                     "note": json.dumps(getattr(model, "fit_stats", {}).get("kinetic", ""))})
        return wall

    for name in BASELINES:
        add(name, name)
    ode_wall = add("ode (endpoint correction, default)", "ode")
    add("ode (endpoint blend)", "ode", endpoint="blend")
    add("ode (endpoint none: one IVP)", "ode", endpoint="none")
    add("sde", "sde")
    add("cde", "cde")
    add(f"dynode-paper ({ode_wall:.1f} s budget)", "dynode-paper", time_budget=ode_wall)
    return rows


# ------------------------------------------------------------------ synthetic
def damped_rotation(t: np.ndarray) -> np.ndarray:
    """x(t) = exp(-t / 4) (cos 2 pi t, sin 2 pi t): period 1, 37% amplitude left after 4."""
    decay = np.exp(-0.25 * t)
    return np.stack([decay * np.cos(2 * math.pi * t), decay * np.sin(2 * math.pi * t)], 1)


def van_der_pol(t: np.ndarray) -> np.ndarray:
    """The mu = 1 van der Pol limit cycle from (2, 0), time scaled to period 1."""
    from scipy.integrate import solve_ivp

    period = 6.6633

    def field(_s, x):
        return [period * x[1], period * ((1 - x[0] ** 2) * x[1] - x[0])]

    order = np.argsort(t)
    sol = solve_ivp(field, (0, float(t.max())), [2.0, 0.0], t_eval=t[order], rtol=1e-10,
                    atol=1e-10)
    out = np.empty((len(t), 2))
    out[order] = sol.y.T / 1.5
    return out


class Embedding:
    """A fixed random map R^2 -> R^(18 x 512): z = W2 tanh(W1 x + b1)."""

    def __init__(self, seed: int = 0, hidden: int = 64) -> None:
        rng = np.random.default_rng(seed)
        self.w1 = rng.normal(0, 1.0, (hidden, 2))
        self.b1 = rng.normal(0, 0.5, hidden)
        self.w2 = rng.normal(0, 1.0, (18 * 512, hidden)) / math.sqrt(hidden)

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        z = np.tanh(x @ self.w1.T + self.b1) @ self.w2.T
        return torch.tensor(z, dtype=torch.float32).reshape(-1, 18, 512)


def observation_times(per_period: float, irregular: bool, seed: int = 1) -> np.ndarray:
    count = int(PERIODS * per_period) + 1
    if not irregular:
        return np.linspace(0, PERIODS, count)
    rng = np.random.default_rng(seed)
    inner = rng.uniform(0, PERIODS, count - 2)
    return np.sort(np.concatenate([[0.0, PERIODS], inner]))


def run_synthetic(per_period: float) -> list[dict]:
    embed = Embedding()
    rows = []
    for system_name, system in (("damped rotation", damped_rotation),
                                ("van der Pol", van_der_pol)):
        for irregular in (False, True):
            t = observation_times(per_period, irregular)
            mid = (t[1:] + t[:-1]) / 2
            ext = t[-1] + np.linspace(0, 0.25 * PERIODS, 7)[1:]
            traj = LatentTrajectory(torch.tensor(t), embed(system(t)), "w+", {})
            z_mid, z_ext = embed(system(mid)), embed(system(ext))
            last, prev = traj.latents[-1], traj.latents[-2]
            velocity = (last - prev) / float(t[-1] - t[-2])
            row = {"system": system_name, "sampling": "irregular" if irregular else "regular",
                   "frames": len(t),
                   "hold_ext": mse(last.expand_as(z_ext), z_ext),
                   "velocity_ext": mse(last + torch.tensor(ext - t[-1]).float()[:, None, None]
                                       * velocity, z_ext)}
            for name, (component, options) in SYNTHETIC_MODELS.items():
                model, wall, _ = timed_fit(component, traj, **options)
                row[name] = mse(model.predict(torch.tensor(mid)), z_mid)
                row[f"{name}_ext"] = mse(model.predict(torch.tensor(ext)), z_ext)
                row[f"{name}_s"] = wall
            rows.append(row)
    return rows


# ---------------------------------------------------------------------- speed
def run_speed(frames: int = 64, layers: int = 10, dim: int = 128) -> list[dict]:
    """``ode`` fit time on a smooth 64-frame W+ trajectory of a 64 px StyleGAN (10 x 128),
    twice in this process: the first fit pays the one-off imports (torchdiffeq, scipy)."""
    gen = torch.Generator().manual_seed(0)
    t = torch.arange(frames, dtype=torch.float64) / 24
    freq = torch.tensor([0.3, 0.5, 0.8, 1.1, 1.7, 2.3])
    phase = torch.rand(len(freq), generator=gen) * 2 * math.pi
    basis = torch.randn(len(freq), layers * dim, generator=gen)
    codes = torch.sin(2 * math.pi * freq * t[:, None].float() + phase) @ basis
    codes = codes + 0.05 * torch.randn(codes.shape, generator=gen)
    traj = LatentTrajectory(t, codes.reshape(frames, layers, dim), "w+", {"fps": 24.0})
    rows = []
    for run in ("first fit (imports included)", "second fit"):
        model, wall, cpu = timed_fit("ode", traj)
        start = time.perf_counter()
        model.predict(torch.linspace(0, float(t[-1]), 4 * (frames - 1) + 1))
        rows.append({"run": run, "fit_wall_s": wall, "fit_cpu_s": cpu,
                     "predict_4x_s": time.perf_counter() - start,
                     "kinetic": model.fit_stats.get("kinetic")})
    return rows


# --------------------------------------------------------------------- report
def real_table(rows: list[dict]) -> str:
    lines = ["| model | held-out latent MSE | fit wall s | fit CPU s | kinetic |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['mse']:.4f} | {r['fit_wall_s']:.1f} | "
                     f"{r['fit_cpu_s']:.1f} | {r['note']} |")
    return "\n".join(lines)


def synthetic_table(rows: list[dict]) -> str:
    head = ["system", "sampling", "T"] + list(SYNTHETIC_MODELS) + [
        "ode vs linear", "ode vs cubic", "hold ext", "velocity ext", "ode ext",
        "ode ext / best simple"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        best = min(r["hold_ext"], r["velocity_ext"])
        cells = [r["system"], r["sampling"], str(r["frames"])]
        cells += [f"{r[n]:.4f}" for n in SYNTHETIC_MODELS]
        cells += [f"{100 * (1 - r['ode'] / r['linear']):.0f}% lower",
                  f"{r['ode'] / r['cubic']:.2f}x", f"{r['hold_ext']:.4f}",
                  f"{r['velocity_ext']:.3f}", f"{r['ode_ext']:.4f}", f"{r['ode_ext'] / best:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["real", "synthetic", "speed", "all"], default="all")
    parser.add_argument("--per-period", type=float, default=5.5,
                        help="samples per period in the synthetic part")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    out = {"load_average": os.getloadavg(), "torch_threads": torch.get_num_threads()}
    if args.part in ("real", "all"):
        out["real"] = run_real()
        print(real_table(out["real"]), flush=True)
    if args.part in ("synthetic", "all"):
        out["synthetic"] = run_synthetic(args.per_period)
        print(synthetic_table(out["synthetic"]), flush=True)
    if args.part in ("speed", "all"):
        out["speed"] = run_speed()
        for r in out["speed"]:
            print(f"ode, 64 frames of 10 x 128: {r['run']}: fit {r['fit_wall_s']:.1f} s wall, "
                  f"{r['fit_cpu_s']:.1f} s CPU; 4x prediction {r['predict_4x_s']:.2f} s")
    print(f"load average at start: {out['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
