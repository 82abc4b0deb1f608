"""What a batch did: ``batch.json`` (written atomically, after every video) and the table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..io import atomic_write_text

BATCH_FORMAT = "dynode.batch/1"
BATCH_FILE = "batch.json"


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
        path = self.folder / BATCH_FILE
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2))
        return path


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
