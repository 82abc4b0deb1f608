"""The parts of ``report.html`` made from numbers: values as shown, per-frame (or
per-step) plots, and the optional sections, each shown only when the run has its data:
the generator tuning (``metrics.json`` key ``tune`` and ``tuned.safetensors``) and the
temporal-consistency numbers (key ``temporal``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .tune import DELTA_FILE  # the delta a tuned run writes (the changed tensors only)

PLOT_WIDTH, PLOT_HEIGHT, PLOT_PAD = 360, 120, 6


@dataclass
class FramePlot:
    """A per-frame series drawn as an inline SVG polyline."""

    title: str
    points: str  # "x,y x,y ..." in the SVG's user units
    low: str
    high: str
    mean: str
    count: int


def fmt(value) -> str:
    """A number as shown on the page (4 significant digits); anything else as text."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def frame_plot(values, title: str) -> FramePlot | None:
    """Per-frame values scaled into the plot box (None when there are none)."""
    values = [float(v) for v in values or []]
    if not values:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (PLOT_WIDTH - 2 * PLOT_PAD) / max(1, len(values) - 1)
    inner = PLOT_HEIGHT - 2 * PLOT_PAD
    points = " ".join(f"{PLOT_PAD + i * step:.1f},{PLOT_PAD + inner * (high - v) / span:.1f}"
                      for i, v in enumerate(values))
    return FramePlot(title, points, fmt(low), fmt(high), fmt(sum(values) / len(values)),
                     len(values))


#: Tuner settings shown beside its numbers, when the delta's header has them.
TUNER_SETTINGS = (("name", "tuner"), ("locality", "locality term (weight)"),
                  ("locality_samples", "locality samples"), ("lr", "learning rate"),
                  ("batch", "batch"))


def delta_settings(path: Path) -> dict:
    """The tuner settings stored in the delta's header ({} when they cannot be read)."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="np") as handle:
            header = handle.metadata() or {}
        return json.loads(header.get("config", "{}")).get("tuner", {}) or {}
    except (OSError, ValueError, AttributeError):
        return {}


def tune_section(folder: Path, metrics: dict) -> dict | None:
    """Steps, seconds, the PSNR curve, the locality term and the delta file of a tuned
    run; None for a run that was not tuned."""
    tune = metrics.get("tune")
    if not isinstance(tune, dict):
        return None
    delta = folder / DELTA_FILE
    settings = delta_settings(delta) if delta.is_file() else {}
    stage = (metrics.get("stages") or {}).get("tune") or {}
    rows = [("steps", "steps", fmt(tune.get("steps", settings.get("steps")))),
            ("seconds", "seconds", fmt(stage.get("seconds"))),
            ("final_batch_psnr", "last batch PSNR (dB)", fmt(tune.get("final_batch_psnr")))]
    rows += [(key, label, fmt(settings[key])) for key, label in TUNER_SETTINGS
             if key in settings]
    if tune.get("resumed"):
        rows.append(("resumed", "resumed", "loaded from the delta of an earlier attempt"))
    return {"rows": rows, "curve": frame_plot(tune.get("psnr_curve"), "batch PSNR (dB)"),
            "delta": DELTA_FILE if delta.is_file() else None,
            "delta_kib": fmt(round(delta.stat().st_size / 1024, 1)) if delta.is_file() else None}


def temporal_section(metrics: dict) -> dict | None:
    """The ``temporal`` metrics as one table: a row per key; when the values are objects
    (per output, say), a column per key inside them. None when there are none."""
    temporal = metrics.get("temporal")
    if not isinstance(temporal, dict) or not temporal:
        return None
    nested = [v for v in temporal.values() if isinstance(v, dict)]
    columns = []
    for value in nested:
        columns += [k for k in value if k not in columns]
    rows = []
    for key, value in temporal.items():
        cells = ([fmt(value.get(c)) if c in value else "" for c in columns]
                 if isinstance(value, dict) else [fmt(value)])
        rows.append((key, cells))
    return {"columns": columns or ["value"], "rows": rows}
