"""One video of a batch as a job, its result, and the worker that runs jobs.

A :class:`BatchWorker` lives in one worker (a process, a Ray actor): it sets torch's
thread count once and keeps every generator and encoder it loads, so a worker that
processes many videos loads its models once. A job runs :func:`run_pipeline` with the
video's own config, exactly as ``dynode run`` would; a failing video becomes a failed
:class:`JobResult` with a one-line error, never an exception.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass, field

from ..run.config import RunConfig

#: Component kinds a worker keeps loaded between videos.
KEPT_KINDS = ("generators", "encoders")


@dataclass
class BatchJob:
    """One video to run: its position in the manifest, run folder name and config
    (``config.out`` is its run folder); ``resume`` continues an interrupted run."""

    index: int
    name: str
    config: RunConfig
    resume: bool = False

    def retried(self) -> "BatchJob":
        """The job for another worker after its worker died: it continues the run folder
        the dead worker may have started."""
        return dataclasses.replace(self, resume=True)


@dataclass
class JobResult:
    """What became of one video. ``status``: ``ok``, ``failed`` or ``skipped`` (finished
    by an earlier batch); ``attempts`` counts workers that took it (2 after a retry)."""

    index: int
    name: str
    status: str
    seconds: float = 0.0
    psnr: float | None = None
    error: str | None = None
    attempts: int = 1
    worker: str | None = None
    threads: int | None = None
    stages: dict = field(default_factory=dict)

    @classmethod
    def died(cls, job: BatchJob, reason: str, attempts: int = 2) -> "JobResult":
        """The result of a job whose workers died (the executor gives up on it)."""
        return cls(job.index, job.name, "failed", error=f"worker died: {one_line(reason)}",
                   attempts=attempts)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def one_line(error) -> str:
    """An exception (or text) as one line: dynode's own messages as they are, others with
    their type; the first line only."""
    from ..errors import DynodeError

    if isinstance(error, BaseException):
        text = str(error) if isinstance(error, DynodeError) else \
            f"{type(error).__name__}: {error}".rstrip(": ")
    else:
        text = str(error)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"


def _kept(factory):
    """``factory`` that builds each distinct set of options once in this process."""
    built: dict = {}

    def keep(**options):
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        if key not in built:
            built[key] = factory(**options)
        return built[key]

    keep.__wrapped__ = factory
    return keep


class BatchWorker:
    """Runs jobs in this process; built once per worker. ``threads``: torch threads for
    this worker (None: leave torch's setting)."""

    def __init__(self, threads: int | None = None) -> None:
        import torch

        from ..plugins import get_registry

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        self._registry = get_registry()
        self._originals = []
        for kind in KEPT_KINDS:
            for component in self._registry.components(kind):
                kept = dataclasses.replace(component, factory=_kept(component.factory))
                self._registry.add(kept, replace=True)
                self._originals.append(component)

    def run(self, job: BatchJob) -> JobResult:
        """Run one video; failures (bad input, out of memory ...) become a failed result."""
        from ..run import run_pipeline

        started = time.perf_counter()
        result = JobResult(job.index, job.name, "ok", worker=self.id, threads=self.threads)
        try:
            metrics = run_pipeline(job.config, resume=job.resume, progress=False).metrics
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - recorded, the batch goes on
            result.status, result.error = "failed", one_line(exc)
        else:
            result.psnr = metrics.get("reconstruction_psnr")
            result.stages = {k: v.get("seconds") for k, v in metrics.get("stages", {}).items()}
        result.seconds = round(time.perf_counter() - started, 3)
        return result

    def close(self) -> None:
        """Give the registry its own factories back (for a worker in the main process)."""
        for component in self._originals:
            self._registry.add(component, replace=True)
        self._originals = []
