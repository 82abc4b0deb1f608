"""What a batch did: ``batch.json`` (written atomically, after every video) and the table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_text

BATCH_FORMAT = "dynode.batch/1"
BATCH_FILE = "batch.json"
INDEX_FILE = "index.html"


@dataclass
class BatchSummary:
    """The results of a batch, one per manifest video, in manifest order."""

    folder: Path
    manifest: str
    executor: str
    workers: int = 1
    threads: int | None = None
    results: list = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def failed(self) -> list:
        return [r for r in self.results if r.status == "failed"]

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "failed": 0, "skipped": 0, "pending": 0}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def to_dict(self) -> dict:
        return {"format": BATCH_FORMAT, "manifest": self.manifest, "executor": self.executor,
                "workers": self.workers, "threads": self.threads,
                "wall_seconds": round(self.wall_seconds, 3), "counts": self.counts(),
                "videos": [{**r.to_dict(), "folder": str(self.folder / r.name)}
                           for r in sorted(self.results, key=lambda r: r.index)]}

    def write(self) -> Path:
        """``batch.json`` and the ``index.html`` page linking every run's report."""
        path = self.folder / BATCH_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        atomic_write_text(self.folder / INDEX_FILE, index_page(self))
        return path


def _metrics(folder: Path) -> dict:
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    return metrics if isinstance(metrics, dict) else {}


def _number(value, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return f"{value:.{digits}f}"


def temporal_ratio(metrics: dict):
    """The first ``*ratio`` number in the run's ``temporal`` metrics (None without)."""
    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if (isinstance(item, (int, float)) and not isinstance(item, bool)
                        and str(key).endswith("ratio")):
                    return item
                found = walk(item)
                if found is not None:
                    return found
        return None

    return walk(metrics.get("temporal"))


#: Order of the statuses in the index: the failed videos first.
STATUS_ORDER = {"failed": 0, "pending": 1, "ok": 2, "skipped": 3}


def index_rows(summary: BatchSummary) -> list[dict]:
    """One row per video for ``index.html``: failed ones first, then manifest order."""
    from .thumbs import run_thumbnails

    rows = []
    for r in sorted(summary.results, key=lambda r: (STATUS_ORDER.get(r.status, 9), r.index)):
        folder = summary.folder / r.name
        metrics = _metrics(folder)
        psnr = r.psnr if r.psnr is not None else metrics.get("reconstruction_psnr")
        rows.append({
            "index": r.index, "name": r.name, "status": r.status,
            "seconds": f"{r.seconds:.1f}", "psnr": _number(psnr, 2),
            "ssim": _number(metrics.get("reconstruction_ssim"), 3),
            "temporal": _number(temporal_ratio(metrics), 3),
            "error": r.error or "",
            "report": f"{r.name}/report.html" if (folder / "report.html").is_file() else None,
            "thumbs": run_thumbnails(summary.folder, r.name) if folder.is_dir() else []})
    return rows


def index_page(summary: BatchSummary) -> str:
    """The batch's index page (Jinja2, autoescaped, no external requests): a thumbnail of
    each video's input and output, its status and numbers, a link to its report, the
    failed videos first with their errors, and columns that sort on a click."""
    import jinja2

    rows = index_rows(summary)
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts().items() if n)
    env = jinja2.Environment(loader=jinja2.PackageLoader("dynode_core.batch", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("index.html.j2").render(
        title=counts or "no videos", executor=summary.executor, workers=summary.workers,
        wall=f"{summary.wall_seconds:.1f}", manifest=summary.manifest, rows=rows,
        failed=[row for row in rows if row["status"] == "failed"],
        temporal=any(row["temporal"] for row in rows))


def summary_table(summary: BatchSummary):
    """A rich table: video, status, seconds, reconstruction PSNR, error."""
    from rich.table import Table

    colours = {"ok": "green", "failed": "red", "skipped": "cyan"}
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts().items() if n)
    table = Table("video", "status", "seconds", "PSNR (dB)", "error",
                  title=f"dynode batch: {counts} ({summary.executor}, "
                        f"{summary.wall_seconds:.1f} s)")
    for result in sorted(summary.results, key=lambda r: r.index):
        colour = colours.get(result.status, "white")
        table.add_row(result.name, f"[{colour}]{result.status}[/{colour}]",
                      f"{result.seconds:.1f}",
                      "-" if result.psnr is None else f"{result.psnr:.2f}",
                      result.error or "")
    return table


def stage_line(result) -> str:
    """One line of per-stage seconds for ``--verbose``."""
    stages = " ".join(f"{k} {v:.1f}s" for k, v in result.stages.items() if v is not None)
    where = f" on {result.worker}" if result.worker else ""
    return f"{result.name}: {result.status} in {result.seconds:.1f} s{where} ({stages})"
