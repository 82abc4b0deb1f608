"""``dynode bench`` results: comparisons with the baselines, the targets, tables (rich and
markdown), CSV, JSON and a PNG plot, all written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from pathlib import Path

from dynode_core import atomic_path, atomic_write_text, check_new_output

#: Interpolation targets: (motion, sampling, dB that ``ode`` must gain over ``linear``).
INTERPOLATION_TARGETS = (("circle", "every 4", 1.0), ("spin", "every 4", 1.0))
#: Edit targets for the ``dynamics`` strategy: row key -> (how the value reads, test).
EDIT_TARGETS = {"position_px": ("motion {:.1f} px (<= 1.5)", lambda v: v <= 1.5),
                "flicker_ratio": ("flicker x{:.2f} (<= 1.2)", lambda v: v <= 1.2),
                "vs_baseline_db": ("{:+.2f} dB vs offset (>= -1)", lambda v: v >= -1.0)}
#: PSNR differences below this (dB) are called a tie, not a win or a loss.
TIE_DB = 0.05


# --------------------------------------------------------------- comparisons
def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _against(rows: list[dict], base: dict | None, label: str) -> None:
    """PSNR gain (dB), verdict and latent MSE ratio of each row over ``base``."""
    for row in rows:
        if base is None or row is base:
            row.update(baseline=label if base else "-", vs_baseline_db=math.nan,
                       beats_baseline="-", mse_vs_baseline=math.nan)
            continue
        gain = row["psnr"] - base["psnr"]
        mse, base_mse = row.get("latent_mse"), base.get("latent_mse")
        ratio = mse / base_mse if _finite(mse) and _finite(base_mse) and base_mse > 0 else math.nan
        row.update(baseline=label, vs_baseline_db=gain, mse_vs_baseline=ratio,
                   beats_baseline="tie" if abs(gain) < TIE_DB else "yes" if gain > 0 else "no")


def _interpolation(rows: list[dict]) -> None:
    for group in _groups(rows, ("motion", "sampling")):
        _against(group, next((r for r in group if r["method"] == "linear"), None), "linear")


def _extrapolation(rows: list[dict]) -> None:
    for group in _groups(rows, ("motion",)):
        simple = [r for r in group if r["kind"] == "baseline"]
        best = max(simple, key=lambda r: r["psnr"], default=None)
        _against([r for r in group if r["kind"] != "baseline"], best,
                 best["method"] if best else "-")
        _against(simple, None, "-")


def _edit(rows: list[dict]) -> None:
    for group in _groups(rows, ("motion", "edit", "method")):
        _against(group, next((r for r in group if r["strategy"] == "offset"), None), "offset")


#: task -> fn(rows of that task) adding ``baseline``, ``vs_baseline_db``, ``beats_baseline``.
COMPARISONS = {"interpolate": _interpolation, "extrapolate": _extrapolation, "edit": _edit}


def _groups(rows: list[dict], keys: tuple) -> list[list[dict]]:
    out: dict = defaultdict(list)
    for row in rows:
        out[tuple(row[k] for k in keys)].append(row)
    return list(out.values())


def add_comparisons(rows: list[dict]) -> list[dict]:
    """Each row's PSNR gain over its task's baseline (in place; returns ``rows``)."""
    for task, compare in COMPARISONS.items():
        compare([r for r in rows if r["task"] == task])
    return rows


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets that these rows can decide, each with its value and verdict."""
    found = {(r["task"], r["motion"], r.get("sampling"), r["method"]): r for r in rows}
    psnr = {key: r["psnr"] for key, r in found.items()}
    out = []
    for motion, sampling, gain in INTERPOLATION_TARGETS:
        ode, lin = (found.get(("interpolate", motion, sampling, m)) for m in ("ode", "linear"))
        if ode is not None and lin is not None:
            delta = ode["psnr"] - lin["psnr"]
            ratio = ode.get("latent_mse", math.nan) / lin["latent_mse"] \
                if _finite(lin.get("latent_mse")) and lin["latent_mse"] > 0 else math.nan
            out.append({"target": f"ode beats linear by >= {gain:g} dB, {motion}, {sampling}",
                        "value": f"{delta:+.2f} dB; latent MSE {ratio:.2f}x linear's",
                        "met": delta >= gain})
    for row in rows:
        if row["task"] == "extrapolate" and row["method"] == "ode":
            simple = {m: psnr.get(("extrapolate", row["motion"], row["sampling"], m))
                      for m in ("hold-last", "constant-velocity")}
            gaps = {m: row["psnr"] - v for m, v in simple.items() if v is not None}
            out.append({"target": f"ode extrapolation ({row['sampling']}) beats hold-last and "
                                  f"constant-velocity, {row['motion']}",
                        "value": ", ".join(f"{g:+.2f} dB vs {m}" for m, g in gaps.items()),
                        "met": bool(gaps) and min(gaps.values()) > 0})
    for row in rows:
        if row["task"] == "edit" and row["strategy"] == "dynamics":
            values = {k: row.get(k, math.nan) for k in EDIT_TARGETS}
            out.append({"target": f"dynamics propagation, {row['motion']} {row['edit']} "
                                  f"{row['method']}: motion, flicker and PSNR vs offset",
                        "value": ", ".join(EDIT_TARGETS[k][0].format(v) for k, v in values.items()),
                        "met": all(_finite(v) and EDIT_TARGETS[k][1](v)
                                   for k, v in values.items())})
    return out


# -------------------------------------------------------------------- tables
def _num(digits: int):
    return lambda v: f"{v:.{digits}f}" if _finite(v) else "-"


_SCORES = [("PSNR", "psnr", _num(2)), ("SSIM", "ssim", _num(3)),
           ("latent MSE", "latent_mse", _num(4)), ("pos px", "position_px", _num(1))]
#: task -> (title, columns (header, key, format)).
TABLES = {
    "interpolate": ("Interpolation of held-out frames", [
        ("motion", "motion", str), ("sampling", "sampling", str), ("method", "method", str),
        *_SCORES, ("rot deg", "rotation_deg", _num(1)), ("hue deg", "hue_deg", _num(1)),
        ("s", "seconds", _num(2)), ("MSE / linear", "mse_vs_baseline", _num(2)),
        ("vs linear dB", "vs_baseline_db", _num(2)), ("beats linear?", "beats_baseline", str)]),
    "extrapolate": ("Extrapolation: fit on the first 75%, predict the rest", [
        ("motion", "motion", str), ("held out", "sampling", str), ("method", "method", str),
        *_SCORES, ("rot deg", "rotation_deg", _num(1)), ("hue deg", "hue_deg", _num(1)),
        ("s", "seconds", _num(2)), ("MSE / best simple", "mse_vs_baseline", _num(2)),
        ("vs best simple dB", "vs_baseline_db", _num(2)),
        ("beats hold-last and const-velocity?", "beats_baseline", str)]),
    "edit": ("Edit propagation against the true edited video", [
        ("motion", "motion", str), ("edit", "edit", str), ("direction", "direction", str),
        ("strength", "strength", _num(3)),
        ("at max?", "strength_capped", lambda v: {True: "yes", False: "no"}.get(v, "-")),
        ("method", "method", str),
        ("strategy", "strategy", str), *_SCORES,
        ("flicker x", "flicker_ratio", _num(2)), ("edit err", "edit_error", _num(1)),
        ("unit", "edit_error_unit", str), ("s", "seconds", _num(2)),
        ("MSE / offset", "mse_vs_baseline", _num(2)), ("vs offset dB", "vs_baseline_db", _num(2)),
        ("beats offset?", "beats_baseline", str)]),
}


def _cells(rows: list[dict], task: str):
    title, columns = TABLES[task]
    body = [[fmt(r.get(key)) for _, key, fmt in columns] for r in rows if r["task"] == task]
    return title, [c[0] for c in columns], body


def print_tables(rows: list[dict], console=None) -> None:
    """Rich tables, one per task present, then the targets."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=200)  # a log file or pipe: keep the columns readable
    for task in TABLES:
        title, head, body = _cells(rows, task)
        if body:
            table = Table(*head, title=title)
            for cells in body:
                table.add_row(*cells)
            console.print(table)
    for t in targets(rows):
        console.print(f"[{'green' if t['met'] else 'red'}]{'met' if t['met'] else 'MISSED'}"
                      f"[/]: {t['target']} ({t['value']})")
    for note in notes(rows):
        console.print(note, markup=False)


def notes(rows: list[dict]) -> list[str]:
    """What the reference rows were made with (their ``inversion``), once each."""
    return list(dict.fromkeys(f"{r['method']}: {r['inversion']}" for r in rows
                              if r.get("inversion")))


def markdown(rows: list[dict]) -> str:
    """Markdown tables (one per task present) and the targets, for docs."""
    parts = []
    for task in TABLES:
        title, head, body = _cells(rows, task)
        if body:
            lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
                     "|" + "---|" * len(head)]
            lines += ["| " + " | ".join(cells) + " |" for cells in body]
            parts.append("\n".join(lines))
    lines = [f"- {'met' if t['met'] else '**missed**'}: {t['target']} ({t['value']})"
             for t in targets(rows)] + [f"- {note}" for note in notes(rows)]
    if lines:
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


# ------------------------------------------------------------------- outputs
def output_paths(out, stem: str) -> dict[str, Path]:
    return {ext: Path(out) / f"{stem}.{ext}" for ext in ("csv", "json", "png", "md")}


def check_outputs(out, stem: str, overwrite: bool) -> dict[str, Path]:
    """The files a run will write; refuses existing ones unless ``overwrite``."""
    paths = output_paths(out, stem)
    for path in paths.values():
        check_new_output(path, overwrite=overwrite)
    return paths


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_outputs(paths: dict[str, Path], rows: list[dict], meta: dict, plot) -> None:
    """CSV (every column), JSON (``meta`` + rows + targets), the markdown tables and
    ``plot(rows, path)``'s PNG."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows([{k: ("" if _plain(v) is None else v) for k, v in r.items()} for r in rows])
    atomic_write_text(paths["csv"], text.getvalue())
    payload = {**meta, "rows": [{k: _plain(v) for k, v in r.items()} for r in rows],
               "targets": targets(rows)}
    atomic_write_text(paths["json"], json.dumps(payload, indent=1, default=str) + "\n")
    atomic_write_text(paths["md"], markdown(rows))
    with atomic_path(paths["png"]) as tmp:
        plot(rows, tmp)


# --------------------------------------------------------------------- plots
def _figure(panels: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    return plt, fig, list(axes.flat)


def plot_interpolation(rows: list[dict], path) -> None:
    """PSNR against sampling sparsity, one panel per motion, one line per method (dashed:
    irregular sampling)."""
    interp = [r for r in rows if r["task"] == "interpolate"]
    motions = list(dict.fromkeys(r["motion"] for r in interp)) or ["(none)"]
    plt, fig, axes = _figure(len(motions))
    methods = list(dict.fromkeys(r["method"] for r in interp))
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    for ax, motion in zip(axes, motions):
        for method in methods:
            for irregular, style in ((False, "-o"), (True, "--x")):
                found = sorted((r["every"], r["psnr"]) for r in interp if r["motion"] == motion
                               and r["method"] == method and r["irregular"] == irregular)
                if found:
                    ax.plot(*zip(*found), style, color=colours[method],
                            label=method if not irregular else f"{method} (irregular)",
                            linewidth=2.5 if method == "inverted-heldout" else 1.2)
        ax.set_xscale("log", base=2)
        ticks = sorted({r["every"] for r in interp})
        ax.set_xticks(ticks, [str(k) for k in ticks])
        ax.minorticks_off()
        ax.set_title(motion)
        ax.set_xlabel("observed every k-th frame")
        ax.set_ylabel("PSNR of held-out frames (dB)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)


def plot_edit(rows: list[dict], path) -> None:
    """PSNR of every method / strategy against the true edited video, one panel per
    motion and edit."""
    edits = [r for r in rows if r["task"] == "edit"]
    panels = list(dict.fromkeys((r["motion"], r["edit"]) for r in edits)) or [("", "")]
    plt, fig, axes = _figure(len(panels))
    for ax, (motion, edit) in zip(axes, panels):
        found = [r for r in edits if r["motion"] == motion and r["edit"] == edit]
        labels = [r["method"] if r["strategy"] == "-" else f"{r['method']}/{r['strategy']}"
                  for r in found]
        colours = [{"reference": "tab:green", "baseline": "tab:grey"}.get(r["kind"], "tab:blue")
                   for r in found]
        ax.barh(range(len(found)), [r["psnr"] for r in found], color=colours)
        ax.set_yticks(range(len(found)), labels, fontsize=7)
        ax.invert_yaxis()
        lo = min((r["psnr"] for r in found), default=0.0)
        ax.set_xlim(left=max(0.0, lo - 2.0))
        ax.set_title(f"{motion}: {edit}")
        ax.set_xlabel("PSNR vs true edited video (dB)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
