"""``report.html``: the page a person opens beside a run folder.

The page is built from the run folder's own files only (``metrics.json``,
``config.toml``, the videos, ``trajectory.png``, ``contact_sheet.png``), so
``dynode report RUN_DIR`` rebuilds it and ``run_pipeline`` writes it the same
way once ``metrics.json`` is written. It is self-contained apart from relative
links to those files: no script, style or font is fetched from anywhere, so the
folder can be copied, zipped or served statically.

The template is ``templates/report.html.j2`` (Jinja2, autoescaped); this module
only gathers and formats the data it shows.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .folder import is_run_folder
from .sections import (PLOT_HEIGHT, PLOT_PAD, PLOT_WIDTH, FramePlot, fmt,  # noqa: F401
                       frame_plot)

REPORT = "report.html"
TEMPLATE = "report.html.j2"

#: The videos shown side by side, in this order; ``edited_*.mp4`` follow.
VIDEOS = ("input", "reconstruction", "interpolated", "extrapolated")

#: Headline numbers: metrics.json key, label.
HEADLINE = (("reconstruction_psnr", "reconstruction PSNR (dB)"),
            ("reconstruction_ssim", "reconstruction SSIM"),
            ("fit_loss", "fit loss"), ("frames", "frames"),
            ("interpolated_frames", "interpolated frames"),
            ("total_seconds", "total time (s)"), ("peak_rss_mb", "peak memory (MiB)"),
            ("device", "device"), ("seed", "seed"))

MAX_COLUMNS = 6  # videos in one row; more wrap, at the same size


@dataclass
class Video:
    file: str  # relative to the run folder
    label: str


def load_run(folder: Path):
    """The run's metrics and config; one-line errors for anything that is not a run."""
    from .config import RunConfig

    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder; give a dynode run folder")
    if not is_run_folder(folder):
        raise InputError(f"{folder} is not a dynode run folder (no .dynode-run marker)")
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except FileNotFoundError:
        raise InputError(f"{folder} has no metrics.json: the run did not finish "
                         "(continue it with dynode run --resume)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{folder}/metrics.json is not valid JSON: {exc}") from None
    from .metrics_schema import SchemaError, check_metrics

    try:
        check_metrics(metrics)
    except SchemaError as exc:
        raise InputError(f"{folder}/{exc}") from None
    return metrics, RunConfig.from_toml(folder / "config.toml")


def run_videos(folder: Path, factor: int) -> list[Video]:
    """The run's videos that exist, labelled, input first and edits last."""
    labels = {"interpolated": f"interpolated x{factor}",
              "extrapolated": f"interpolated x{factor} + extrapolated"}
    videos = [Video(f"{name}.mp4", labels.get(name, name)) for name in VIDEOS
              if (folder / f"{name}.mp4").is_file()]
    for path in sorted(folder.glob("edited_*.mp4")):
        videos.append(Video(path.name, "edited " + path.stem.removeprefix("edited_")))
    return videos


def stage_rows(metrics: dict) -> list[tuple[str, str, str]]:
    stages = metrics.get("stages") or {}
    return [(name, fmt(info.get("seconds")), fmt(info.get("peak_rss_mb")))
            for name, info in stages.items() if isinstance(info, dict)]


def started_in(folder: Path, out: str) -> Path | None:
    """The folder a run was started in, from where its ``--out`` led (None if unknown)."""
    out_path = Path(os.path.normpath(out))
    if out_path.is_absolute() or ".." in out_path.parts:
        return None
    parts, here = out_path.parts, folder.absolute().parts
    if len(here) <= len(parts) or here[-len(parts):] != parts:
        return None
    return Path(*here[: -len(parts)])


def reproduce_command(folder: Path, config) -> tuple[str, str]:
    """The command that runs this run again into a new folder beside it, from any
    directory, and a note saying how its input path was found."""
    folder = folder.absolute()
    args = ["dynode", "run"]
    note = "Every path is absolute: run it from any directory."
    given = config.input
    if given is not None and not Path(given).is_absolute():
        start = started_in(folder, config.out)
        if start is not None and (start / given).exists():
            args.append(str(start / given))
            note = (f"The input {given!r} was relative to the folder the run started in "
                    f"({start}); it is given here as an absolute path, so the command "
                    "works from any directory.")
        elif not (folder / given).exists() and ":" not in given:
            note = (f"The input {given!r} is relative to the folder the run started in, "
                    "which is unknown: run it from there, or give the input's absolute "
                    "path first.")
    args += ["--config", str(folder / "config.toml"), "--out", f"{folder}-again"]
    return shlex.join(args), note


#: Config fields that only a world clip uses (shown when the run had no input).
WORLD_ONLY = ("demo_motion", "demo_frames")


def shown_config(folder: Path, config) -> str:
    """``config.toml`` as shown: without the world clip's fields for a real input."""
    text = (folder / "config.toml").read_text()
    if config.input is None:
        return text
    import tomli_w

    from .config import tomllib

    doc = tomllib.loads(text)
    for key in WORLD_ONLY:
        doc.get("run", {}).pop(key, None)
    return tomli_w.dumps(doc)


def report_context(folder: Path) -> dict:
    """Everything the template shows, read from the run folder."""
    metrics, config = load_run(folder)
    videos = run_videos(folder, config.interpolate)
    plots = [frame_plot(metrics.get(f"reconstruction_{key}_per_frame"), title)
             for key, title in (("psnr", "PSNR (dB)"), ("ssim", "SSIM"))]
    from .sections import temporal_section, tune_section

    fit = metrics.get("fit") if isinstance(metrics.get("fit"), dict) else {}
    command, note = reproduce_command(folder, config)
    return {
        "title": f"dynode run {folder.name}",
        "videos": videos,
        "headline": [(key, label, fmt(metrics[key])) for key, label in HEADLINE
                     if key in metrics],
        "plots": [p for p in plots if p is not None],
        "plot": {"width": PLOT_WIDTH, "height": PLOT_HEIGHT},
        "fit": [(key, fmt(value)) for key, value in fit.items()],
        "dynamics": config.dynamics,
        "factor": config.interpolate,
        "source": config.input or f"world clip {config.demo_motion} ({config.demo_frames} "
                                  "frames)",
        "columns": max(1, min(len(videos), MAX_COLUMNS)),
        "stages": stage_rows(metrics),
        "images": [name for name in ("trajectory.png", "contact_sheet.png")
                   if (folder / name).is_file()],
        "config": shown_config(folder, config),
        "versions": sorted((metrics.get("versions") or {}).items()),
        "reproduce": command, "reproduce_note": note,
        "tune": tune_section(folder, metrics),
        "temporal": temporal_section(metrics),
    }


def render_report(folder) -> str:
    """The report page of the run in ``folder``, as HTML text."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("dynode_core.run", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template(TEMPLATE).render(**report_context(Path(folder)))


def write_report(folder) -> Path:
    """Write ``report.html`` into the run folder (atomically); returns its path."""
    from ..io import atomic_write_text

    folder = Path(folder)
    return atomic_write_text(folder / REPORT, render_report(folder))
