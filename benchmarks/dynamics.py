"""Dynamics benchmark: held-out interpolation and extrapolation error of every model.

Part ``real``: the DynODE paper's 11-frame W+ trajectory (18 x 512, in
../shared/fixtures/dynode-paper/). Fit on the 6 even frames, predict the 5 odd
ones; latent MSE (mean over all 9,216 numbers) and fit time for every model.

Part ``synthetic``: the motions of :mod:`dynamics_suite` (circle, ellipse,
spiral, damped and undamped oscillation, limit cycle, constant velocity,
sudden stop, irregular sampling) in 18 x 512 W+ with per-frame inversion
noise, every 2nd / 4th / 8th frame observed. Every registered dynamics with
its defaults (``dynode-paper``: a ``--paper-budget`` seconds time budget, its
default is 20,000 steps) predicts the other frames (interpolation MSE against
the clean codes) and, fitted on the first 75%, the last 25% (extrapolation,
against holding the last frame and constant velocity). ``sde`` also reports
how often the clean codes fall inside the 90% band of 200 samples.

Part ``speed``: ``ode`` fit time on a 256-frame 18 x 512 trajectory and on
the 11 real codes.

    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part real
    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part synthetic --json synthetic.json
    PYTHONPATH=.:plugins python benchmarks/dynamics.py --part speed
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from dynode_core.plugins import get_registry
from dynode_core.trajectory import LatentTrajectory

try:
    from dynamics_suite import EVERY, MOTIONS, Embedding, make_case, truncated
except ImportError:  # imported as benchmarks.dynamics
    from .dynamics_suite import EVERY, MOTIONS, Embedding, make_case, truncated

FIXTURE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "dynode-paper"
BASELINES = ("linear", "cubic", "pchip")


def mse(a, b) -> float:
    return float((torch.as_tensor(a).float() - torch.as_tensor(b).float()).pow(2).mean())


def timed_fit(name: str, traj: LatentTrajectory, **options):
    model = get_registry().create("dynamics", name, seed=0, device="cpu", **options)
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(traj)
    return model, time.perf_counter() - wall, time.process_time() - cpu


def registered_methods(paper_budget: float) -> dict:
    """label -> (component, options): every registered dynamics with its defaults."""
    names = get_registry().names("dynamics")
    return {n: (n, {"time_budget": paper_budget} if n == "dynode-paper" else {})
            for n in names}


# ----------------------------------------------------------------------- real
def run_real(methods: dict) -> list[dict]:
    path = FIXTURE / "latents.safetensors"
    if not path.exists():
        raise SystemExit(f"needs {path}")
    traj = LatentTrajectory.load(path, fps=1.0)
    train, test = traj.subset(slice(0, None, 2)), traj.subset(slice(1, None, 2))
    rows = []
    for label, (name, options) in methods.items():
        model, wall, cpu = timed_fit(name, train, **options)
        stats = getattr(model, "fit_stats", {})
        rows.append({"model": label, "mse": mse(model.predict(test.times), test.latents),
                     "fit_wall_s": wall, "fit_cpu_s": cpu,
                     "note": json.dumps(stats.get("kinetic", ""))})
    return rows


# ------------------------------------------------------------------ synthetic
def _baseline_extrapolation(case, keep, future) -> dict:
    obs = case.observed[keep]
    last, prev = case.noisy[keep[-1]], case.noisy[keep[-2]]
    t = case.times
    velocity = (last - prev) / float(t[obs[-1]] - t[obs[-2]])
    ahead = (t[future] - t[obs[-1]]).float()[:, None, None]
    truth = case.clean[future]
    return {"hold last ext": mse(last.expand_as(truth), truth),
            "constant velocity ext": mse(last + ahead * velocity, truth)}


def run_case(case, methods: dict) -> dict:
    """Interpolation and extrapolation MSE of every method on one case."""
    traj = LatentTrajectory(case.times[case.observed], case.noisy, "w+", {})
    keep, future = truncated(case)
    short = traj.subset(torch.as_tensor(keep))
    row = {"case": case.label, "motion": case.motion, "every": case.every,
           "observed": len(case.observed), **_baseline_extrapolation(case, keep, future)}
    held = case.predicted
    for label, (component, options) in methods.items():
        model, wall, _ = timed_fit(component, traj, **options)
        row[label] = mse(model.predict(case.times[held]), case.clean[held])
        if getattr(model, "stochastic", False):
            row[f"{label}_coverage"] = band_coverage(model, case.times[held], case.clean[held])
        row[f"{label}_s"] = wall
        row[f"{label}_stats"] = {k: v for k, v in getattr(model, "fit_stats", {}).items()
                                 if isinstance(v, (int, float, str))}
        row[f"{label}_stats"]["components"] = getattr(model, "fitted_info", {}).get("components")
        model, _, _ = timed_fit(component, short, **options)
        row[f"{label}_ext"] = mse(model.predict(case.times[future]), case.clean[future])
    return row


def band_coverage(model, times, truth, n: int = 200, band: float = 0.9) -> float:
    """Share of (time, coordinate) pairs whose clean code lies inside the central
    ``band`` of ``n`` samples, in the model's reduced (motion) coordinates."""
    samples = model.space.encode(model.sample(times, n))[0]
    target = model.space.encode(truth)[0]
    lo = torch.quantile(samples, (1 - band) / 2, dim=0)
    hi = torch.quantile(samples, (1 + band) / 2, dim=0)
    return float(((target >= lo) & (target <= hi)).float().mean())


def run_synthetic(motions, every, methods: dict, noise: float) -> list[dict]:
    embed = Embedding()
    rows = []
    for motion in motions:
        for k in every:
            case = make_case(motion, k, noise=noise, embed=embed)
            rows.append(run_case(case, methods))
            print(suite_line(rows[-1], methods), flush=True)
            print("row " + json.dumps(rows[-1]), flush=True)
    return rows


def suite_line(r: dict, methods: dict) -> str:
    cells = [f"{m} {r[m]:.4g}" for m in methods]
    return f"{r['case']}: " + ", ".join(cells)


# ---------------------------------------------------------------------- speed
def run_speed() -> list[dict]:
    """``ode`` fit time on a 256-frame 18 x 512 circle with inversion noise and on the
    11 real codes (each fitted twice in this process: the first pays the imports)."""
    case = make_case("circle", 1, noise=0.03, embed=Embedding(), frames=256)
    long = LatentTrajectory(case.times, case.noisy, "w+", {})
    trajectories = {"256 x 18 x 512 circle": long}
    if (FIXTURE / "latents.safetensors").exists():
        trajectories["real codes, 11 x 18 x 512"] = LatentTrajectory.load(
            FIXTURE / "latents.safetensors", fps=1.0)
    rows = []
    for label, traj in trajectories.items():
        for run in ("first fit", "second fit"):
            model, wall, cpu = timed_fit("ode", traj)
            start = time.perf_counter()
            model.predict(torch.linspace(0, float(traj.times[-1]), 4 * (len(traj) - 1) + 1))
            rows.append({"trajectory": label, "run": run, "fit_wall_s": wall, "fit_cpu_s": cpu,
                         "predict_4x_s": time.perf_counter() - start,
                         "steps": model.fit_stats.get("steps"),
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


def synthetic_table(rows: list[dict], methods: dict) -> str:
    """Interpolation MSE per method, ode's ratios and verdicts, sde's band coverage."""
    head = ["case", "T"] + list(methods) + ["ode / best spline", "hold ext", "velocity ext",
                                             "ode ext", "ode ext / best simple",
                                             "sde 90% band"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        spline = min(r["linear"], r["cubic"])
        simple = min(r["hold last ext"], r["constant velocity ext"])
        interp = r["ode"] / spline if "ode" in r else float("nan")
        ext = r["ode_ext"] / simple if "ode" in r else float("nan")
        cells = [r["case"], str(r["observed"])] + [f"{r[m]:.3g}" for m in methods]
        cells += [_verdict(interp, 1.0), f"{r['hold last ext']:.3g}",
                  f"{r['constant velocity ext']:.3g}",
                  f"{r.get('ode_ext', float('nan')):.3g}", _verdict(ext, 0.1)]
        cov = r.get("sde_coverage")
        cells.append("-" if cov is None else
                     f"{100 * cov:.0f}%" + ("" if 0.8 <= cov <= 0.98 else " **missed**"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _verdict(ratio: float, target: float) -> str:
    return f"{ratio:.2f}x" + ("" if ratio <= target else " **missed**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["real", "synthetic", "speed", "all"], default="all")
    parser.add_argument("--motions", default=";".join(MOTIONS),
                        help="synthetic motions, separated by ';'")
    parser.add_argument("--every", default=",".join(map(str, EVERY)))
    parser.add_argument("--noise", type=float, default=0.03,
                        help="per-frame inversion noise, times the codes' spread")
    parser.add_argument("--paper-budget", type=float, default=10.0,
                        help="dynode-paper's time budget per fit, seconds")
    parser.add_argument("--methods", default=None,
                        help="comma-separated dynamics (default: every registered one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    methods = registered_methods(args.paper_budget)
    if args.methods:
        methods = {m: methods[m] for m in args.methods.split(",")}
    out = {"load_average": os.getloadavg(), "torch_threads": torch.get_num_threads()}
    if args.part in ("real", "all"):
        out["real"] = run_real(methods)
        print(real_table(out["real"]), flush=True)
    if args.part in ("synthetic", "all"):
        every = [int(k) for k in args.every.split(",")]
        out["synthetic"] = run_synthetic(args.motions.split(";"), every, methods, args.noise)
        print(synthetic_table(out["synthetic"], methods), flush=True)
    if args.part in ("speed", "all"):
        out["speed"] = run_speed()
        for r in out["speed"]:
            print(f"ode, {r['trajectory']}, {r['run']}: fit {r['fit_wall_s']:.1f} s wall, "
                  f"{r['fit_cpu_s']:.1f} s CPU ({r['steps']} steps); "
                  f"4x prediction {r['predict_4x_s']:.2f} s", flush=True)
    out["load_average_end"] = os.getloadavg()
    print(f"load average at start: {out['load_average']}, at the end: {out['load_average_end']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
