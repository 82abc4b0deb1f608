"""The batch driver: plan the run folders, hand the jobs to an executor, record results.

Everything is checked before the first video runs: the manifest, ``--out``, and each
video's run folder (``--resume`` sorts them into finished, interrupted and new).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from ..errors import OutputError
from .jobs import BatchJob, JobResult
from .manifest import BatchEntry, read_manifest
from ..run import RUN_MARKER as MARKER
from ..run import RunLock

#: The batch folder's lock file (a second ``dynode batch`` on the folder is refused).
BATCH_LOCK = ".dynode-batch.lock"
from .summary import BATCH_FILE, BatchSummary, stage_line


def _finished_psnr(folder: Path):
    try:
        return json.loads((folder / "metrics.json").read_text()).get("reconstruction_psnr")
    except (OSError, ValueError):
        return None


def _plan_one(job: BatchJob, resume: bool):
    """``job`` to run (resuming when asked), a skipped result, or raise why not."""
    folder = Path(job.config.out)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file")
    if not folder.is_dir() or not any(folder.iterdir()):
        return job
    if not resume:
        raise OutputError(f"{folder} exists; pass --resume to continue the batch")
    if not (folder / MARKER).is_file():
        raise OutputError(f"{folder} is not a dynode run folder")
    config = folder / "config.toml"
    if config.is_file() and config.read_text() != job.config.to_toml():
        raise OutputError(f"{folder} holds a run of another config; move it away or "
                          "give the video another name")
    if config.is_file() and (folder / "metrics.json").is_file():
        return JobResult(job.index, job.name, "skipped", psnr=_finished_psnr(folder),
                         attempts=0)
    return dataclasses.replace(job, resume=True)


def plan_batch(entries: list[BatchEntry], out, *, resume: bool = False):
    """(jobs to run, results of finished runs skipped); every problem in one error."""
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} is a file, not a folder")
    if (out / BATCH_FILE).exists() and not resume:
        raise OutputError(f"--out {out} holds a batch already; pass --resume to continue it")
    jobs, skipped, problems = [], [], []
    for index, entry in enumerate(entries):
        config = dataclasses.replace(entry.config, out=str(out / entry.name))
        try:
            planned = _plan_one(BatchJob(index, entry.name, config), resume)
        except OutputError as exc:
            problems.append(f"{entry.name}: {exc}")
            continue
        (skipped if isinstance(planned, JobResult) else jobs).append(planned)
    if problems:
        raise OutputError("; ".join(problems))
    return jobs, skipped


def create_executor(name: str = "local", *, workers: int | None = None,
                    address: str | None = None):
    """The registered executor ``name``, built with the options that were given."""
    from ..interfaces import require
    from ..plugins import get_registry

    options = {k: v for k, v in {"workers": workers, "address": address}.items()
               if v is not None}
    return require(get_registry().create("executors", name, **options), "executors", name)


def _bar(enabled: bool, console, total: int):
    from ..progress import Progressor

    bar = Progressor(enabled=enabled, console=console)
    return bar, bar.task("videos", total=total)


def run_batch(manifest, out, *, executor: str = "local", workers: int | None = None,
              address: str | None = None, resume: bool = False, progress: bool = True,
              verbose: bool = False, console=None) -> BatchSummary:
    """Run every video of ``manifest`` (a TOML/CSV path) into ``out/NAME`` with the
    executor ``executor``; returns the summary (also in ``out/batch.json``). Failing
    videos are recorded, never raised; see ``BatchSummary.failed``."""
    started = time.perf_counter()
    entries = read_manifest(manifest)
    jobs, skipped = plan_batch(entries, out, resume=resume)
    runner = create_executor(executor, workers=workers, address=address) if jobs else None
    folder = Path(out).absolute()
    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder, BATCH_LOCK, "batch folder")  # one writer, as for run folders
    try:
        return _run_jobs(manifest, folder, entries, jobs, skipped, runner, executor, started,
                         progress, verbose, console)
    finally:
        lock.release()


def _run_jobs(manifest, folder, entries, jobs, skipped, runner, executor, started, progress,
              verbose, console) -> BatchSummary:
    summary = BatchSummary(folder, str(manifest), executor,
                           workers=runner.workers if runner else 0,
                           threads=runner.threads if runner else None, results=list(skipped))
    pending = {job.index: job for job in jobs}
    summary.results += [JobResult(j.index, j.name, "pending", attempts=0) for j in jobs]
    summary.write()
    bar, advance = _bar(progress, console, len(entries))
    with bar:
        advance(len(skipped))
        if runner is not None:
            with runner:
                for result in runner.run(jobs):
                    pending.pop(result.index, None)
                    summary.results = [r for r in summary.results if r.index != result.index]
                    summary.results.append(result)
                    summary.wall_seconds = time.perf_counter() - started
                    summary.write()
                    if verbose and console is not None:
                        console.print(stage_line(result))
                    advance(1)
    summary.results = [r for r in summary.results if r.index not in pending] + [
        JobResult(j.index, j.name, "failed", error="the executor returned no result",
                  attempts=0) for j in pending.values()]
    summary.wall_seconds = time.perf_counter() - started
    summary.write()
    return summary
