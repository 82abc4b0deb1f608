"""The ``speed`` stage: how fast the clip's codes move, a run step with one user option.

It runs after ``invert`` when the user gives ``--speed-window N`` (``speed_window = N``
in the ``[stages.speed]`` table of ``config.toml``, or a batch manifest column). It
measures the latent speed between consecutive frames (the L2 distance of their W+ codes
per second), smooths it with a moving average over ``N`` frames, writes ``speed.json``
to the run folder and adds a ``speed`` section to ``metrics.json``. On ``--resume`` a
finished ``speed.json`` is read back instead of measured again.
"""

from __future__ import annotations

import json

from dynode_core import Stage, StageOption, atomic_write_text, result_of

FILE = "speed.json"

WINDOW = StageOption("speed_window", int, minimum=1,
                     help="Measure the codes' speed, averaged over N frames (speed.json).")


def measure(ctx, trajectory) -> dict:
    """The speed of the observed codes, smoothed over ``speed_window`` frames."""
    import numpy as np

    saved = ctx.folder / FILE
    if ctx.resume and saved.is_file():
        return json.loads(saved.read_text())
    window = ctx.settings["speed_window"]
    codes = trajectory.latents.flatten(1).double().numpy()
    steps = np.linalg.norm(np.diff(codes, axis=0), axis=1) / np.diff(trajectory.times.numpy())
    width = min(window, len(steps))
    smooth = np.convolve(steps, np.ones(width) / width, mode="valid")
    return {"window": window, "per_second": [round(float(v), 6) for v in smooth]}


def save(ctx, result: dict) -> None:
    atomic_write_text(ctx.folder / FILE, json.dumps(result, indent=2) + "\n")


def metrics(ctx) -> dict:
    """The stage's ``metrics.json`` section."""
    speeds = ctx.results["speed"]["per_second"]
    return {"window": ctx.results["speed"]["window"], "mean": sum(speeds) / len(speeds),
            "max": max(speeds), "file": FILE}


def speed_stage() -> Stage:
    return Stage("speed", measure, take=result_of("invert"), save=save,
                 description="the codes' speed per second (--speed-window)",
                 options=(WINDOW,), active=lambda settings: settings["speed_window"] is not None,
                 metrics=metrics)
