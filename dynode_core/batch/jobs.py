"""One video of a batch as a job, its result, and the worker that runs jobs.

A :class:`BatchWorker` lives in one worker (a process, a Ray actor): it sets torch's
thread count once and keeps every generator it loads, so a worker that processes many
videos loads each generator once. It passes the loaded generator to each run
(``run_pipeline(..., components={"generator": g})``); the run never changes it (a tuned
run tunes its own copy), so every video gives what its own ``dynode run`` gives. Nothing
in the plugin registry is replaced. A failing video becomes a failed :class:`JobResult`
with a one-line error, never an exception.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass, field

from ..run import RunConfig

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


class BatchWorker:
    """Runs jobs in this process; built once per worker. ``threads``: torch threads for
    this worker (None: leave torch's setting)."""

    def __init__(self, threads: int | None = None) -> None:
        import torch

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.threads = torch.get_num_threads()
        self.id = f"{socket.gethostname()}:{os.getpid()}"
        self._generators: dict = {}

    def generator(self, config: RunConfig):
        """The generator ``config`` names, loaded once per distinct name, checkpoint,
        device and options in this worker (shared read-only between its runs)."""
        from ..device import resolve_device
        from ..plugins import get_registry

        device = resolve_device(config.device)
        options = config.component_options.get("generator", {})
        key = (config.generator, config.checkpoint, device,
               tuple(sorted((k, repr(v)) for k, v in options.items())))
        if key not in self._generators:
            self._generators[key] = get_registry().create(
                "generators", config.generator, checkpoint=config.checkpoint, device=device,
                **options)
        return self._generators[key]

    def run(self, job: BatchJob) -> JobResult:
        """Run one video; failures (bad input, out of memory ...) become a failed result."""
        from ..run import run_pipeline

        started = time.perf_counter()
        result = JobResult(job.index, job.name, "ok", worker=self.id, threads=self.threads)
        try:
            components = {"generator": self.generator(job.config)}
            metrics = run_pipeline(job.config, resume=job.resume, progress=False,
                                   components=components).metrics
        except (Exception, MemoryError) as exc:  # noqa: BLE001 - recorded, the batch goes on
            result.status, result.error = "failed", one_line(exc)
        else:
            result.psnr = metrics.get("reconstruction_psnr")
            result.stages = {k: v.get("seconds") for k, v in metrics.get("stages", {}).items()}
        result.seconds = round(time.perf_counter() - started, 3)
        return result

    def close(self) -> None:
        """Drop the loaded generators."""
        self._generators.clear()
