"""The ``ray`` executor: one Ray actor per worker, each keeping its models loaded.

Without ``address`` it starts a local Ray on this machine's CPUs
(``ray.init(num_cpus=..., include_dashboard=False)``) and shuts it down after the
batch; with ``address`` (``auto``, ``ray://HOST:PORT``) it joins a running cluster and
leaves it running. Each actor reserves ``threads`` CPUs and sets torch to that many
threads, so workers x threads never exceeds the CPUs Ray has. A video whose actor
dies (killed, out of memory) goes to a fresh actor once; ``ray`` is imported only
when the executor is built (the ``ray`` extra: ``pip install -e ".[ray]"`` in the source
checkout).
"""

from __future__ import annotations

import logging
from collections import deque

from dynode_core import BatchWorker, DynodeError, Executor, InputError, JobResult

from .common import MAX_ATTEMPTS, available_cpus, threads_per_worker


class Worker:
    """The actor's class (wrapped with ``ray.remote`` when the executor starts)."""

    def __init__(self, threads: int) -> None:
        self.worker = BatchWorker(threads)

    def run(self, job):
        return self.worker.run(job)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise DynodeError('--executor ray needs Ray: pip install -e ".[ray]" '
                          "(in the dynode source checkout)") from None
    return ray


class RayExecutor(Executor):
    """Ray actors; ``workers`` (default: the cluster's CPUs) capped at the CPUs Ray has;
    ``cpus``: CPUs of a local Ray started here (default: this process's CPUs)."""

    def __init__(self, workers: int | None = None, address: str | None = None,
                 cpus: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise InputError(f"--workers must be >= 1, got {workers}")
        ray = self._ray = _import_ray()
        self._started = False
        if not ray.is_initialized():
            options = {"address": address} if address else {  # "local": never a stray cluster
                "address": "local", "num_cpus": cpus or available_cpus(),
                "include_dashboard": False}
            try:
                ray.init(logging_level=logging.WARNING, log_to_driver=False, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise DynodeError(f"cannot start or join Ray at {address or 'this machine'}: "
                                  f"{str(exc).strip().splitlines()[0]}") from None
            self._started = True
        total = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.workers = min(workers or total, total)
        self.threads = threads_per_worker(total, self.workers)
        self._actors: list = []
        self._remote = ray.remote(num_cpus=self.threads, max_restarts=0,
                                  max_task_retries=0)(Worker)

    def _actor(self):
        actor = self._remote.remote(self.threads)
        self._actors.append(actor)
        return actor

    def run(self, jobs):
        ray = self._ray
        queue, attempts, running = deque(jobs), {job.index: 0 for job in jobs}, {}
        idle = [self._actor() for _ in range(min(self.workers, len(queue)))]
        while queue or running:
            while idle and queue:
                actor, job = idle.pop(), queue.popleft()
                attempts[job.index] += 1
                running[actor.run.remote(job)] = (actor, job)
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ref)
            try:
                result = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                    ray.exceptions.OutOfMemoryError) as exc:
                self._actors.remove(actor)
                if attempts[job.index] < MAX_ATTEMPTS:
                    queue.appendleft(job.retried())
                else:
                    yield JobResult.died(job, f"{type(exc).__name__}: {exc}")
                idle.append(self._actor())  # a fresh process takes the next video
                continue
            except ray.exceptions.RayError as exc:
                result = JobResult(job.index, job.name, "failed",
                                   error=f"{type(exc).__name__}: "
                                         f"{str(exc).strip().splitlines()[0]}")
            result.attempts = attempts[job.index]
            idle.append(actor)
            yield result

    def close(self) -> None:
        for actor in self._actors:
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors = []
        if self._started:
            self._ray.shutdown()
            self._started = False
